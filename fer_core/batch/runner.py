"""`run_batch`: a whole archive through the frame path on a Dask cluster, written to one results folder.

The client (this process) lists the inputs, skips those the folder's manifest has finished, and feeds the
cluster a bounded window of tasks in input order: a photo is one task; a video is first planned (its
packets read on a worker) and then analysed as time chunks, which run on any worker and are stitched back
in time order by one more task on a worker. Workers also encode each input's Parquet partition, so the
client only writes bytes. Each finished input is written (atomically) and recorded in the
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
from .plan import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS, VideoPlan, analysed_frames
from .store import BatchStore, EncodedResult

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
    """A video in flight: its plan, and its chunk tasks submitted so far."""

    plan: VideoPlan
    futures: list["Future"] = field(default_factory=list)


class _Job:
    """The client's loop: a window of tasks on the cluster, each input written as it finishes.

    The client does little per input: it submits tasks and writes the bytes a worker made. A photo's task
    returns its encoded partition; a video's plan comes back to the client, which submits its chunks and
    then one `finish_video` task that depends on them, so the chunks' rows go from worker to worker.
    """

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
        self.last = ""

    # --- submitting --------------------------------------------------------------------------------------
    def _submit(self, kind: str, file: InputFile, extra: Any) -> "Future":
        o = self.options
        # Earlier inputs first, so videos finish (and leave memory) in order; a plan before any analysis.
        priority = -self.order[file.source] + (1_000_000 if kind == "plan" else 0)
        key = f"{kind}-{uuid.uuid4().hex}"
        if kind == "photo":
            return self.client.submit(tasks.analyze_photo, str(file.path), file.source, file.key, o.settings,
                                      key=key, priority=priority, pure=False)
        if kind == "plan":
            return self.client.submit(tasks.plan_video, str(file.path), file.source, o.every, o.chunk_seconds,
                                      o.overlap_seconds, key=key, priority=priority, pure=False)
        video = self.videos[file.source]
        if kind == "chunk":
            return self.client.submit(tasks.analyze_chunk, str(file.path), file.source, extra, o.settings, o.every,
                                      video.plan.info.fps or 25.0, key=key, priority=priority, pure=False)
        return self.client.submit(tasks.finish_video, file.source, file.key, video.plan, o.every, *extra,
                                  key=key, priority=priority + 1, pure=False)

    def fill(self, completed: Any) -> None:
        while self.queue and len(self.in_flight) < self.window:
            kind, file, extra = self.queue.popleft()
            future = self._submit(kind, file, extra)
            self.in_flight[future] = (kind, file, extra)
            completed.add(future)
            if kind == "chunk":
                video = self.videos[file.source]
                video.futures.append(future)
                if len(video.futures) == len(video.plan.chunks):  # all chunks out: the stitching task next
                    self.queue.appendleft(("finish", file, list(video.futures)))
                    video.futures.clear()

    # --- results -----------------------------------------------------------------------------------------
    def handle(self, futures: list["Future"]) -> None:
        """Futures that just finished: their results fetched in one round trip, then written in order."""
        wanted = [f for f in futures if self.in_flight[f][0] != "chunk" and f.status == "finished"]
        fetched = dict(zip(wanted, self.client.gather(wanted))) if wanted else {}
        for future in futures:
            kind, file, extra = self.in_flight.pop(future)
            if kind == "chunk":  # its rows stay on the cluster for finish_video: only progress here
                self.frames_done += self._owned(extra)
                continue
            if future in fetched:
                outcome = fetched[future]
            else:
                try:
                    outcome = future.result()
                except Exception as error:  # noqa: BLE001 - a worker died (KilledWorker), a task was cancelled
                    outcome = tasks.Failure("failed", f"{file.source}: the worker analysing it failed "
                                                      f"({type(error).__name__}).")
            self._outcome(kind, file, outcome)

    def _outcome(self, kind: str, file: InputFile, outcome: Any) -> None:
        if kind == "plan":
            self._plan(file, outcome)
            return
        if kind == "finish":  # the plan's frame count was an estimate: put the frames really analysed instead
            video = self.videos.pop(file.source)
            actual = 0 if isinstance(outcome, tasks.Failure) else int(outcome.summary.get("frames_analysed") or 0)
            self.planned_frames += actual - self._to_analyse(video.plan.frames)
            self.frames_done += actual - sum(self._owned(chunk) for chunk in video.plan.chunks)
        if isinstance(outcome, tasks.Failure):
            self._fail(file, outcome)
        else:
            self._finish(file, outcome)

    def _owned(self, chunk: Any) -> int:
        return analysed_frames(chunk.first_frame, chunk.first_frame + chunk.owned, self.options.every)

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
        return analysed_frames(0, max(frames, 0), self.options.every)

    def _finish(self, file: InputFile, result: EncodedResult) -> None:
        entry = self.store.record(file, result)
        self.finished += 1
        self.report.rows += result.rows
        self.report.frames += int(result.summary.get("frames_analysed") or 0)
        if file.kind == "photo":
            self.frames_done += 1
        if entry.status == "done":
            self.report.analysed += 1
        else:
            self.report.no_faces += 1
        self.store.write_tables(force=False)
        self.last = file.source

    def _fail(self, file: InputFile, failure: tasks.Failure) -> None:
        if file.kind == "photo":
            self.photos -= 1  # its frame is no longer to come
        self.store.record_failure(file, failure.kind, failure.reason)
        self.finished += 1
        self.failed += 1
        self.report.failed += 1
        self.report.errors.append({"source": file.source, "error": failure.kind, "reason": failure.reason})
        self.store.write_tables(force=False)
        self.last = file.source

    # --- progress ----------------------------------------------------------------------------------------
    def snapshot(self) -> Progress:
        mean = self.planned_frames / self.planned_videos if self.planned_videos else 0
        unplanned = self.videos_total - self.planned_videos
        total = self.photos + self.planned_frames + int(mean * unplanned)
        return Progress(len(self.files), self.finished, self.failed, max(total, self.frames_done), self.frames_done,
                        time.perf_counter() - self.start, self.last)

    def run(self) -> bool:
        """Until every input is finished (True) or the progress callback asks to stop (False)."""
        from distributed import as_completed

        completed = as_completed(loop=self.client.loop)
        self.fill(completed)
        if self.progress_cb is not None:
            self.progress_cb(self.snapshot())
        for batch in completed.batches():
            self.handle(batch)
            self.fill(completed)
            if self.progress_cb is not None and self.progress_cb(self.snapshot()) is False:
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
        if report.interrupted:
            store.remove_unrecorded()  # an input written but not yet recorded when the interruption came
        store.write_tables()
        report.seconds = time.perf_counter() - start
    return report
