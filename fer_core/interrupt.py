"""Ctrl-C as a request to stop, so that a long run keeps what it has done.

A plain Ctrl-C raises KeyboardInterrupt wherever the program happens to be, and an hour of video analysis
is lost with the stack. Inside `StopOnCtrlC`, the first Ctrl-C only sets `requested`: the loops that check
it (a video's frames, a folder's files) end at the next frame or file, and the caller writes the results
it has and exits with 130. A second Ctrl-C interrupts at once, as usual, for a user who does not want to wait.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class StopOnCtrlC:
    """A context manager: while it is active, the first SIGINT sets `requested` instead of raising."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> "StopOnCtrlC":
        # Signal handlers can only be set from the main thread; elsewhere Ctrl-C keeps its usual meaning. A
        # process started with Ctrl-C ignored (`command &` in a script) keeps ignoring it.
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._previous = signal.SIG_DFL if previous is None else previous  # None: set outside Python
            self._installed = True
        return self

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C interrupts at once

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
