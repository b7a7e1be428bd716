"""Work that outlives a script run: a child process (training) and a background thread (a video analysis).

Streamlit reruns a page's script whenever a widget changes and drops it when the visitor opens another
page; work done inside the script dies with the run. A job kept in `st.session_state` goes on instead: the
page shows its progress on every run (a fragment polls it), a click on a sidebar setting or another page
does not touch it, and Stop ends it on purpose, keeping what was done.

- `ChildJob`: `python -m MODULE FOLDER ...` in a process of its own (its own memory and threads, so the
  server gets back to what it was when the child ends); the folder carries the input and the progress.
- `ThreadJob`: a function in a daemon thread of the server, for work that needs no TensorFlow (a video
  analysis shares the server's cached detector and classifier); it reports progress through attributes
  the page reads, and stops when asked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ChildJob:
    """A child process running `python -m module folder *args`, its output in `folder/log.txt`."""

    folder: Path
    process: subprocess.Popen
    started: float = field(default_factory=time.time)

    @classmethod
    def start(cls, module: str, folder: str | Path, *args: str) -> "ChildJob":
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "0"),
               "PYTHONUNBUFFERED": "1"}
        with open(folder / "log.txt", "ab") as log:
            process = subprocess.Popen([sys.executable, "-m", module, str(folder), *args], cwd=REPO_ROOT, env=env,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # its own group: Stop ends it and its helpers
        return cls(folder, process)

    @property
    def running(self) -> bool:
        return self.process.poll() is None  # also reaps the child once it has ended

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def kill(self, timeout: float = 10.0) -> None:
        """End the child at once (its whole process group) and wait for it."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)


class ThreadJob:
    """`work(job)` in a daemon thread; `work` reads `job.stop_requested` and sets `job.done`/`job.total`/
    `job.text` as it goes. Its return value ends up in `result`, an exception in `error`."""

    def __init__(self, work: Callable[["ThreadJob"], Any], name: str = "fer-job") -> None:
        self.done = 0
        self.total = 0
        self.text = ""
        self.started = time.time()
        self.result: Any = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._work = work
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = self._work(self)
        except BaseException as error:  # noqa: BLE001 - handed to the page, which shows one sentence
            self.error = error

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()
