"""`run_batch`: a whole archive through the frame path on a Dask cluster, written to one results folder.

The client (this process) lists the inputs, skips those the folder's manifest has finished, and feeds the
cluster a bounded window of tasks in input order: a photo is one task; a video is first planned (its
packets read on a worker) and then analysed as time chunks, which run on any worker and are stitched back
in time order when the last one is in. Each finished input is written (atomically) and recorded in the
manifest at once, so an interruption loses only the inputs in flight; a rerun of the same command skips
what is finished and retries what failed.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..settings import Settings
from . import tasks
from .cluster import ClusterSpec, connect, dashboard_link, prepare_workers
from .inputs import InputFile, collect_inputs
from .plan import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS, VideoPlan
from .stitch import stitch
from .store import BatchStore

if TYPE_CHECKING:
    from distributed import Client, Future


@dataclass(frozen=True)
class BatchOptions:
    """Everything a batch job needs besides its inputs.

    `settings` and `every` decide the results (a rerun into the same folder must keep them); the rest
    decide only where and how fast it runs: `chunk_seconds` / `overlap_seconds` (how videos are cut,
    `fer_core.batch.plan`), `cluster` (local workers or a scheduler address), `window` (tasks handed to
    the cluster at once; default four per worker thread).
    """

    out: Path
    settings: Settings = field(default_factory=Settings)
    every: int = 1
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    window: int | None = None

    def analysis(self) -> dict[str, Any]:
        """What the results depend on (stored in batch.json and compared by a rerun)."""
        return {"settings": self.settings.to_dict(), "every": self.every}


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays, sent after each finished task."""

    files_total: int
    files_done: int  # finished in this run (analysed, no faces, or failed)
    files_failed: int
    frames_total: int  # frames to analyse: known for planned videos, estimated for the others
    frames_done: int
    elapsed: float
    last: str = ""  # the input that just finished, if any

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far (None until a frame is done)."""
        if not self.frames_done or self.elapsed <= 0:
            return None
        return max(self.frames_total - self.frames_done, 0) * self.elapsed / self.frames_done


ProgressCallback = Callable[[Progress], "bool | None"]
"""Called after each finished task; return False to stop the job (what is finished stays written)."""


@dataclass
class BatchReport:
    """What a batch job did: counts for this run, and where the results are."""

    out: Path
    files: int  # inputs named
    skipped: int  # already finished in an earlier run
    analysed: int  # finished now with faces
    no_faces: int
    failed: int
    frames: int  # frames analysed now
    rows: int  # result rows written now
    seconds: float
    workers: int = 0  # worker threads of the cluster
    interrupted: bool = False
    dashboard: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)  # this run's failures: source, error, reason

    @property
    def done(self) -> int:
        return self.skipped + self.analysed + self.no_faces

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "out": str(self.out)}


@dataclass
class _Video:
    """A video in flight: its plan, the chunks' outcomes so far."""

    plan: VideoPlan | None = None
    outcomes: dict[int, tasks.ChunkOutcome] = field(default_factory=dict)
    seconds: float = 0.0
    frames_done: int = 0
    failed: bool = False


def _strided(start: int, stop: int, every: int) -> int:
    """How many frame indices in [start, stop) are multiples of `every` (the frames analysed there)."""
    return max(0, -(-stop // every) - -(-start // every))


class _Job:
    """The client's loop: a window of tasks on the cluster, results written as inputs finish."""

    def __init__(self, client: "Client", options: BatchOptions, store: BatchStore, files: list[InputFile],
                 report: BatchReport, progress: ProgressCallback | None, threads: int) -> None:
        self.client, self.options, self.store, self.report = client, options, store, report
        self.progress_cb = progress
        self.files = files
        self.window = options.window or max(4, 4 * threads)
        self.queue: deque[tuple[str, InputFile, Any]] = deque(
            ("photo" if f.kind == "photo" else "plan", f, None) for f in files)
        self.videos: dict[str, _Video] = {}
        self.in_flight: dict["Future", tuple[str, InputFile, Any]] = {}
        self.order = {f.source: i for i, f in enumerate(files)}
        self.start = time.perf_counter()
        self.finished = self.failed = self.frames_done = 0
        self.planned_frames = 0
        self.planned_videos = 0
        self.photos = sum(1 for f in files if f.kind == "photo")
        self.videos_total = len(files) - self.photos

    # --- submitting --------------------------------------------------------------------------------------
    def _submit(self, kind: str, file: InputFile, chunk: Any) -> "Future":
        o = self.options
        # Earlier inputs first, so videos finish (and leave memory) in order; a plan before any analysis.
        priority = -self.order[file.source] + (1_000_000 if kind == "plan" else 0)
        key = f"{kind}-{uuid.uuid4().hex}"
        if kind == "photo":
            return self.client.submit(tasks.analyze_photo, str(file.path), file.source, o.settings,
                                      key=key, priority=priority, pure=False)
        if kind == "plan":
            return self.client.submit(tasks.plan_video, str(file.path), file.source, o.every, o.chunk_seconds,
                                      o.overlap_seconds, key=key, priority=priority, pure=False)
        fps = self.videos[file.source].plan.info.fps or 25.0  # type: ignore[union-attr]
        return self.client.submit(tasks.analyze_chunk, str(file.path), file.source, chunk, o.settings, o.every,
                                  fps, key=key, priority=priority, pure=False)

    def fill(self, completed: Any) -> None:
        while self.queue and len(self.in_flight) < self.window:
            kind, file, chunk = self.queue.popleft()
            if kind == "chunk" and self.videos[file.source].failed:
                continue
            future = self._submit(kind, file, chunk)
            self.in_flight[future] = (kind, file, chunk)
            completed.add(future)

    # --- results -----------------------------------------------------------------------------------------
    def handle(self, future: "Future") -> None:
        kind, file, chunk = self.in_flight.pop(future)
        try:
            outcome = future.result()
        except Exception as error:  # noqa: BLE001 - a worker died (KilledWorker), the task was cancelled, ...
            outcome = tasks.Failure("failed", f"{file.source}: the worker analysing it failed "
                                              f"({type(error).__name__}).")
        finally:
            future.release()
        if kind == "photo":
            self._photo(file, outcome)
        elif kind == "plan":
            self._plan(file, outcome)
        else:
            self._chunk(file, outcome)

    def _photo(self, file: InputFile, outcome: Any) -> None:
        if isinstance(outcome, tasks.Failure):
            self._fail(file, outcome)
            return
        self.frames_done += 1
        self._finish(file, outcome.table, {"width": outcome.width, "height": outcome.height, "frames_analysed": 1,
                                           "seconds": round(outcome.seconds, 4)})

    def _plan(self, file: InputFile, outcome: Any) -> None:
        if isinstance(outcome, tasks.Failure):
            self.videos_total -= 1  # no longer part of the estimate of frames to come
            self._fail(file, outcome)
            return
        self.videos[file.source] = _Video(plan=outcome)
        self.planned_videos += 1
        self.planned_frames += self._to_analyse(outcome.frames)
        # The chunks go to the front of the queue, in order, ahead of inputs not yet started.
        self.queue.extendleft(reversed([("chunk", file, chunk) for chunk in outcome.chunks]))

    def _to_analyse(self, frames: int) -> int:
        return -(-max(frames, 0) // self.options.every)

    def _chunk(self, file: InputFile, outcome: Any) -> None:
        video = self.videos.get(file.source)
        if video is None or video.failed:
            return
        if isinstance(outcome, tasks.Failure):
            video.failed = True
            self.planned_frames -= self._to_analyse(video.plan.frames) - video.frames_done  # type: ignore[union-attr]
            self._cancel_chunks(file)
            self._fail(file, outcome)
            return
        video.outcomes[outcome.chunk] = outcome
        video.seconds += outcome.seconds
        done = _strided(outcome.first_frame, outcome.owned_end, self.options.every)
        video.frames_done += done
        self.frames_done += done
        plan = video.plan
        assert plan is not None
        if len(video.outcomes) < len(plan.chunks):
            return
        stitched = stitch(list(video.outcomes.values()))
        info = plan.info
        analysed = sum(_strided(o.first_frame, min(o.owned_end, o.stop_frame), self.options.every)
                       for o in video.outcomes.values())
        del self.videos[file.source]
        self._finish(file, stitched.table, {
            "width": info.width, "height": info.height, "duration": round(info.duration, 4),
            "fps": round(info.fps, 4), "frames_analysed": analysed, "chunks": len(plan.chunks),
            "seconds": round(video.seconds, 4)})

    def _cancel_chunks(self, file: InputFile) -> None:
        doomed = [f for f, (kind, other, _) in self.in_flight.items() if kind == "chunk" and other.source == file.source]
        for future in doomed:
            self.in_flight.pop(future)
            future.cancel()

    def _finish(self, file: InputFile, table: Any, facts: dict[str, Any]) -> None:
        entry = self.store.record_result(file, table, facts)
        self.finished += 1
        self.report.rows += len(table)
        self.report.frames += int(facts.get("frames_analysed") or 0)
        if entry.status == "done":
            self.report.analysed += 1
        else:
            self.report.no_faces += 1
        self.store.write_tables(force=False)
        self.last = file.source

    def _fail(self, file: InputFile, failure: tasks.Failure) -> None:
        self.store.record_failure(file, failure.kind, failure.reason)
        self.finished += 1
        self.failed += 1
        self.report.failed += 1
        self.report.errors.append({"source": file.source, "error": failure.kind, "reason": failure.reason})
        self.store.write_tables(force=False)
        self.last = file.source

    # --- progress ----------------------------------------------------------------------------------------
    def snapshot(self, last: str = "") -> Progress:
        mean = self.planned_frames / self.planned_videos if self.planned_videos else 0
        unplanned = self.videos_total - self.planned_videos
        total = self.photos + self.planned_frames + int(mean * unplanned)
        return Progress(len(self.files), self.finished, self.failed, max(total, self.frames_done), self.frames_done,
                        time.perf_counter() - self.start, last)

    def run(self) -> bool:
        """Until every input is finished (True) or the progress callback asks to stop (False)."""
        from distributed import as_completed

        completed = as_completed(loop=self.client.loop)
        self.last = ""
        self.fill(completed)
        if self.progress_cb is not None:
            self.progress_cb(self.snapshot())
        for future in completed:
            if future not in self.in_flight:  # cancelled with its video
                continue
            self.handle(future)
            self.fill(completed)
            if self.progress_cb is not None and self.progress_cb(self.snapshot(self.last)) is False:
                return False
        return True

    def cancel(self) -> None:
        futures = list(self.in_flight)
        self.in_flight.clear()
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 - the cluster may already be going away
                pass


def run_batch(inputs: Sequence[str | Path], options: BatchOptions, progress: ProgressCallback | None = None,
              on_connect: Callable[[str | None, int], None] | None = None) -> BatchReport:
    """Analyse every photo and video named by `inputs` into `options.out`; see the module's docstring.

    `on_connect(dashboard_link, worker_threads)` is called once the cluster is ready. Ctrl-C (or a
    progress callback returning False) stops the job: what finished stays written and recorded, and the
    report says `interrupted`. Bad inputs never raise: they are rows of the errors table. A `FerError` is
    raised only for a problem with the job itself (no inputs, an unusable output folder, no cluster).
    """
    from ..detectors import available_detectors
    from ..errors import FerError
    from ..models import get_model

    start = time.perf_counter()
    if options.settings.detector not in available_detectors():
        raise FerError(f"Unknown detector {options.settings.detector!r}; choose one of "
                       f"{', '.join(available_detectors())}.")
    get_model(options.settings.model)  # an unknown model is one sentence here, not one error per file
    if options.every < 1 or options.chunk_seconds <= 0 or options.overlap_seconds < 0:
        raise FerError("every must be at least 1, the chunk length above 0 and the overlap 0 or more.")
    files = collect_inputs(inputs)
    store = BatchStore(options.out)
    store.prepare({"analysis": options.analysis()})
    todo, finished = store.pending(files)
    report = BatchReport(Path(options.out), len(files), len(finished), 0, 0, 0, 0, 0, 0.0)
    if not todo:
        store.write_tables()
        report.seconds = time.perf_counter() - start
        return report
    job: _Job | None = None
    try:
        with connect(options.cluster) as client:
            threads = prepare_workers(client, options.settings, local=not options.cluster.scheduler)
            report.workers = threads
            report.dashboard = dashboard_link(client) if options.cluster.dashboard else None
            if on_connect is not None:
                on_connect(report.dashboard, threads)
            job = _Job(client, options, store, todo, report, progress, threads)
            try:
                report.interrupted = not job.run()
            except KeyboardInterrupt:
                report.interrupted = True
            finally:
                job.cancel()
    except KeyboardInterrupt:  # while the cluster was starting or closing
        report.interrupted = True
    finally:
        store.write_tables()
        report.seconds = time.perf_counter() - start
    return report
