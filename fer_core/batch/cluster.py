"""Where a batch job runs: a `LocalCluster` of worker processes on this machine (the default), or an
existing Dask cluster reached by its scheduler's address, with the same code either way.

Each worker builds the detector and the classifier once, when it joins (`RecognizerPlugin`, a Dask worker
plugin, so workers that join later are set up too), and every task on it reuses them
(`fer_core.batch.tasks.recognizer_for`). Workers of an existing cluster must be able to import `fer_core`
(`pip install .` of this project, or `PYTHONPATH` set to a checkout) and read the inputs at the same paths.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..errors import FerError

if TYPE_CHECKING:
    from distributed import Client

    from ..settings import Settings

DEFAULT_DASHBOARD = "127.0.0.1:8787"
PLUGIN_NAME = "fer-recognizer"
WORKER_WAIT_SECONDS = 30.0


WORKER_ENVIRONMENT = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
"""Dask starts worker processes with MALLOC_TRIM_THRESHOLD_=65536 (to hand freed memory back sooner), which
also turns off glibc's adaptive mmap threshold: every decoded frame (a megabyte or more) is then a fresh
mmap and page faults, 10.3 instead of 7.2 ms of CPU a frame (benchmarks/results/bench_batch.json). Local workers are started without it; memory stays flat without it
(benchmarks/bench_memory.py). For `dask worker` processes started by hand, `WORKER_CONFIG` does the same:
DASK_CONFIG=.../fer_core/batch/dask-worker.yaml dask worker tcp://HOST:8786."""

WORKER_CONFIG = Path(__file__).with_name("dask-worker.yaml")


class _InterruptRaceFilter(logging.Filter):
    """Drops the one log record of a known race in distributed's `sync()` (seen with 2026.8): when Ctrl-C lands
    before its future exists, the `cancel` callback it schedules on the event loop fails with a NameError, and
    tornado logs that with a traceback. The interrupt itself is handled (the job stops and what finished is
    written), so the traceback is noise; any other error still reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, NameError) or error.__traceback__ is None:
            return True
        last = error.__traceback__
        while last.tb_next is not None:
            last = last.tb_next
        code = last.tb_frame.f_code
        return not (code.co_name == "cancel" and Path(code.co_filename).parts[-2:] == ("distributed", "utils.py"))


INTERRUPT_RACE_FILTER = _InterruptRaceFilter()


def default_workers() -> int:
    """One single-threaded worker process per core: the model is small, so processes scale best."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ClusterSpec:
    """`scheduler` ("tcp://host:8786") for an existing cluster, else a local one of `workers` processes.

    `dashboard` starts (locally) the Dask dashboard at `dashboard_address`; for an existing cluster its own
    dashboard address is reported.
    """

    scheduler: str | None = None
    workers: int | None = None
    dashboard: bool = False
    dashboard_address: str = DEFAULT_DASHBOARD


def require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise FerError("Batch runs need Dask: pip install \"dask[distributed]\" (or this project's "
                       "requirements.txt).") from None


@contextlib.contextmanager
def _interrupts_ignored_by_children() -> Iterator[None]:
    """Start local worker processes with Ctrl-C ignored (they inherit it), so a Ctrl-C in the terminal stops
    the job, which then closes them cleanly, instead of printing each worker's traceback. (A Ctrl-C in the
    second or two while they start is ignored: a handler would not be inherited, only "ignore" is.)"""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _no_main_script_for_children() -> Iterator[None]:
    """Start local worker processes without re-running this process's main script in each of them.

    Dask starts workers with multiprocessing's "spawn", which runs the parent's `__main__` file again in every
    child (as `__mp_main__`). Under Streamlit that file is the last page script run (Streamlit leaves
    `sys.modules["__main__"]` pointing at it), so each worker of a Batch-page run would run that page again, and
    a page script that cannot run bare (a Streamlit AppTest's, say) stops the worker before it starts ("Nanny
    failed to start"). Workers need only `fer_core`, so they get a bare `__main__` while they start."""
    import sys
    import types

    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or not getattr(main, "__file__", None):
        yield  # `python -m ...` (children import it by name) or an interactive session: nothing to hide
        return
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@contextlib.contextmanager
def connect(spec: ClusterSpec) -> Iterator["Client"]:
    """A connected `distributed.Client`, closed (with its local cluster) on exit, whatever happens."""
    require_dask()
    import dask
    from distributed import Client, LocalCluster

    logging.getLogger("tornado.application").addFilter(INTERRUPT_RACE_FILTER)  # added once, however often called

    cluster = None
    try:
        if spec.scheduler:
            try:
                client = Client(spec.scheduler, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError) as error:
                raise FerError(f"Could not reach a Dask scheduler at {spec.scheduler} "
                               f"({type(error).__name__}).") from None
        else:
            # Set for the process, not in a `with` block: Dask's own threads read and set the config while
            # the cluster starts, and a block's exit would race with them.
            dask.config.set(WORKER_ENVIRONMENT)
            with _interrupts_ignored_by_children(), _no_main_script_for_children():
                cluster = LocalCluster(
                    n_workers=spec.workers or default_workers(), threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=spec.dashboard_address if spec.dashboard else None,
                    worker_dashboard_address=None, silence_logs=logging.ERROR,
                )
            client = Client(cluster, set_as_default=False)
    except FerError:
        raise
    except Exception as error:  # noqa: BLE001 - e.g. the dashboard port taken, no room for processes
        if cluster is not None:
            cluster.close()
        raise FerError(f"Could not start the local Dask cluster ({type(error).__name__}: {error}).") from None
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=10)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=10)


def prepare_workers(client: "Client", settings: "Settings", local: bool = False,
                    wait: float = WORKER_WAIT_SECONDS) -> int:
    """Wait for at least one worker, load the model on every worker; returns the number of worker threads.

    `local`: the workers are this job's own (a LocalCluster), so they also leave Ctrl-C to the job."""
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError:
        raise FerError(f"The Dask cluster has no workers (none joined within {wait:.0f} s).") from None
    try:
        from .plugin import RecognizerPlugin

        client.register_plugin(RecognizerPlugin(settings, ignore_interrupt=local), name=PLUGIN_NAME)
    except (ImportError, ModuleNotFoundError):
        raise FerError("The Dask workers cannot import fer_core: install this project on them (pip install .) "
                       "or start them with PYTHONPATH set to a checkout.") from None
    except FerError:
        raise
    except Exception as error:  # noqa: BLE001 - a worker could not build the model
        raise FerError(f"The Dask workers could not load the model ({type(error).__name__}: {error}).") from None
    return max(1, sum(client.nthreads().values()))


def dashboard_link(client: "Client") -> str | None:
    """The Dask dashboard's address, or None when the cluster runs without one."""
    try:
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - no dashboard service on the scheduler
        return None
