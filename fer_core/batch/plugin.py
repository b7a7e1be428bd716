"""The Dask worker plugin that builds a worker's recognizer once, when the worker starts.

In its own module because it subclasses `distributed.WorkerPlugin` (Dask is imported only by batch runs),
and at module level so workers unpickle it by reference (they import `fer_core`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distributed.diagnostics.plugin import WorkerPlugin

if TYPE_CHECKING:
    from ..settings import Settings


class RecognizerPlugin(WorkerPlugin):
    """Builds the worker's detector and classifier at set-up (also on workers that join later), so the
    first task does not pay for it and every task on the worker shares them."""

    idempotent = False

    def __init__(self, settings: "Settings", ignore_interrupt: bool = False) -> None:
        self.settings = settings
        self.ignore_interrupt = ignore_interrupt

    def setup(self, worker) -> None:  # noqa: ANN001 - distributed.Worker
        from .tasks import recognizer_for

        if self.ignore_interrupt:
            ignore_interrupts()
        recognizer_for(self.settings)


def ignore_interrupts() -> None:
    """Local workers leave Ctrl-C to the job: the terminal sends it to the whole process group, and the job
    (which stops them cleanly) is the one to act on it, without a worker's traceback on the screen."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
