"""Batch jobs on Dask (`fer_core.batch`): throughput, the per-task overhead, and how the cost grows.

    .venv/bin/python -m benchmarks.bench_batch [--copies 3] [--repeats 2] [--quick]

1. Throughput (files/s, frames/s) on the same archive, one configuration after another:
   `sequential` (one process, no Dask: the same tasks called in a loop, the model loaded once; the
   reference), `local-1` and `local-2` (a LocalCluster of 1 and 2 worker processes, the default path), and
   `cluster-2` (a `dask scheduler` and two `dask worker` processes started separately beforehand and
   reached by address: the cluster path, workers started with fer_core/batch/dask-worker.yaml as the
   README says; `cluster-2-dask-malloc-default` is the same with Dask's MALLOC_TRIM_THRESHOLD_ left in
   place, to show what that setting costs). Configurations take turns, round after round (`--repeats`),
   so background load falls on all of them alike; medians over rounds. The archive: the 8 sample photos and 4 sample videos, `--copies`
   times (distinct files). Each job writes a fresh results folder. Two times are reported: `job_s`, the
   whole `run_batch` call (a LocalCluster's start and the model loading on each worker included), and
   `work_s`, from the moment the workers are ready to the end; rates are given for both. `cpu_s` is the CPU
   time of every process involved (this one, the scheduler, the workers) over `work_s`: the job's cost
   whatever else the machine runs, where wall times depend on the load (recorded at start and end).
2. The per-task overhead on small photos: the 70 FER2013 48x48 face photos of samples/fer2013_mini,
   `--copies` times, analysed sequentially and by a LocalCluster of one worker; the difference per photo
   is what a Dask task costs (scheduling, serialising the task and its result, the client writing the
   partition and the manifest line).
3. Cost growth with the number of files: 20 to 320 small photos on two local workers; `work_s` against N,
   with a least-squares line (seconds per file, fixed seconds).

Writes benchmarks/results/bench_batch.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.common import ROOT, SAMPLES, load, stop_process, write_result


def _copies(sources: list[Path], folder: Path, copies: int) -> list[Path]:
    """`copies` distinct copies of every source file in `folder` (a rerun check skips same paths)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(copies):
        for source in sources:
            target = folder / f"{i}_{source.parent.name}_{source.name}"
            shutil.copy(source, target)
            paths.append(target)
    return paths


def _archive(folder: Path, copies: int) -> list[Path]:
    """The sample photos and videos, `copies` times."""
    return _copies(sorted((SAMPLES / "photos").iterdir()) + sorted((SAMPLES / "videos").iterdir()), folder, copies)


def _small_photos(folder: Path, copies: int) -> list[Path]:
    """The 70 bundled 48x48 FER2013 faces, `copies` times."""
    return _copies(sorted((SAMPLES / "fer2013_mini").rglob("*.jpg")), folder, copies)


def _cpu_seconds() -> float:
    """CPU seconds used so far by this process and every process under it (a local cluster's workers, or the
    scheduler and workers started by `SeparateCluster`): the cost of a job whatever else the machine runs."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _sequential(paths: list[Path], every: int = 1) -> dict[str, Any]:
    """The same tasks, one after another in this process (encoding included, writing not): the reference
    without Dask."""
    from fer_core.batch import tasks
    from fer_core.batch.inputs import partition_key
    from fer_core.settings import Settings

    settings = Settings()
    start = time.perf_counter()
    tasks.recognizer_for(settings)
    ready = time.perf_counter()
    cpu = _cpu_seconds()
    frames = 0
    for path in paths:
        key = partition_key(path.name)
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            tasks.analyze_photo(str(path), path.name, key, settings)
            frames += 1
        else:
            plan = tasks.plan_video(str(path), path.name, every)
            outcomes = [tasks.analyze_chunk(str(path), path.name, c, settings, every, plan.info.fps) for c in plan.chunks]
            result = tasks.finish_video(path.name, key, plan, every, *outcomes)
            frames += result.summary["frames_analysed"]
    end = time.perf_counter()
    return {"job_s": end - start, "work_s": end - ready, "cpu_s": _cpu_seconds() - cpu, "frames": frames,
            "files": len(paths)}


def _job(paths: list[Path], out: Path, workers: int | None = None, scheduler: str | None = None) -> dict[str, Any]:
    from fer_core.batch import BatchOptions, run_batch
    from fer_core.batch.cluster import ClusterSpec

    ready: list[float] = []
    cpu: list[float] = []

    def connected(link: Any, threads: int) -> None:
        cpu.append(_cpu_seconds())
        ready.append(time.perf_counter())

    def progress(p: Any) -> None:
        if p.files_done == p.files_total and len(cpu) == 1:  # before the cluster closes (its processes go)
            cpu.append(_cpu_seconds())

    start = time.perf_counter()
    report = run_batch(paths, BatchOptions(out=out, cluster=ClusterSpec(workers=workers, scheduler=scheduler)),
                       progress=progress, on_connect=connected)
    end = time.perf_counter()
    assert report.failed == 0 and not report.interrupted, report.errors
    return {"job_s": end - start, "work_s": end - ready[0], "cpu_s": cpu[1] - cpu[0], "frames": report.frames,
            "files": report.files, "workers": report.workers}


def _rates(runs: list[dict[str, Any]]) -> dict[str, Any]:
    job = statistics.median(r["job_s"] for r in runs)
    work = statistics.median(r["work_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    files, frames = runs[0]["files"], runs[0]["frames"]
    return {
        "files": files, "frames": frames, "runs": len(runs),
        "job_s": round(job, 3), "work_s": round(work, 3), "cpu_s": round(cpu, 3),
        "cpu_ms_per_frame": round(cpu / frames * 1000, 3), "cpu_ms_per_file": round(cpu / files * 1000, 2),
        "files_per_s": round(files / work, 2), "frames_per_s": round(frames / work, 1),
        "files_per_s_job": round(files / job, 2), "frames_per_s_job": round(frames / job, 1),
        "all_job_s": [round(r["job_s"], 3) for r in runs], "all_work_s": [round(r["work_s"], 3) for r in runs],
    }


def _remove(folder: Path) -> None:
    """Remove the benchmark's folder; say so if something is left (another process still writing there)."""
    for _ in range(3):
        try:
            shutil.rmtree(folder)
            return
        except FileNotFoundError:
            return
        except OSError as error:
            last = error
            time.sleep(1)
    print(f"could not remove {folder}: {last}", file=sys.stderr)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SeparateCluster:
    """`dask scheduler` + two `dask worker` processes (one thread each), started as a user would, stopped by pid."""

    def __init__(self, workers: int = 2, dask_defaults: bool = False) -> None:
        from fer_core.batch.cluster import WORKER_CONFIG

        self.port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if not dask_defaults:  # as the README says to start them
            env["DASK_CONFIG"] = str(WORKER_CONFIG)
        dask = str(Path(sys.executable).with_name("dask"))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        self.procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                        "--dashboard-address", "127.0.0.1:0"], **quiet)]
        for _ in range(workers):
            self.procs.append(subprocess.Popen([dask, "worker", self.address, "--nthreads", "1",
                                                "--dashboard-address", "127.0.0.1:0"], **quiet))
        from distributed import Client

        with Client(self.address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc, timeout=20)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=3, help="copies of the sample archive (12 files each)")
    parser.add_argument("--photo-copies", type=int, default=3, help="copies of the 70 small photos")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one copy, one repeat (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.copies, args.photo_copies, args.repeats = 1, 1, 1
    result: dict[str, Any] = {"load_at_start": load()}
    work = Path(tempfile.mkdtemp(prefix="fer-bench-batch-"))
    try:
        archive = _archive(work / "archive", args.copies)
        out = lambda name, i: work / "out" / f"{name}-{i}"  # noqa: E731 - a fresh folder per job
        clusters = {"cluster-2": SeparateCluster(workers=2),
                    "cluster-2-dask-malloc-default": SeparateCluster(workers=2, dask_defaults=True)}
        configs: dict[str, Callable[[int], dict[str, Any]]] = {
            "sequential": lambda i: _sequential(archive),
            "local-1": lambda i: _job(archive, out("local1", i), workers=1),
            "local-2": lambda i: _job(archive, out("local2", i), workers=2),
            **{name: (lambda i, name=name: _job(archive, out(name, i), scheduler=clusters[name].address))
               for name in clusters},
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
        try:
            for i in range(args.repeats):  # rounds: every configuration once per round, so load hits all alike
                for name, run in configs.items():
                    runs[name].append(run(i))
        finally:
            for cluster in clusters.values():
                cluster.close()
        throughput = {name: _rates(r) for name, r in runs.items()}
        result["throughput"] = throughput
        result["archive"] = {"files": len(archive), "copies": args.copies,
                             "photos": sum(p.suffix != ".mp4" and p.suffix != ".mov" for p in archive),
                             "videos": sum(p.suffix in (".mp4", ".mov") for p in archive)}

        photos = _small_photos(work / "small", args.photo_copies)
        seq_runs, one_runs = [], []
        for i in range(args.repeats):
            seq_runs.append(_sequential(photos))
            one_runs.append(_job(photos, out("small1", i), workers=1))
        seq, one = _rates(seq_runs), _rates(one_runs)
        result["overhead"] = {
            "photos": len(photos), "sequential": seq, "local-1": one,
            "sequential_ms_per_photo": round(seq["work_s"] / len(photos) * 1000, 2),
            "dask_ms_per_photo": round(one["work_s"] / len(photos) * 1000, 2),
            "overhead_ms_per_task": round((one["work_s"] - seq["work_s"]) / len(photos) * 1000, 2),
            "overhead_cpu_ms_per_task": round((one["cpu_s"] - seq["cpu_s"]) / len(photos) * 1000, 2),
        }

        growth = []
        sizes = [20, 40, 80] if args.quick else [20, 40, 80, 160, 320]
        pool = _small_photos(work / "growth", -(-max(sizes) // 70))
        by_size: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
        for i in range(args.repeats):
            for n in sizes:
                by_size[n].append(_job(pool[:n], out(f"growth{n}", i), workers=2))
        for n, runs_n in by_size.items():
            job_s = statistics.median(r["job_s"] for r in runs_n)
            work_s = statistics.median(r["work_s"] for r in runs_n)
            cpu_s = statistics.median(r["cpu_s"] for r in runs_n)
            growth.append({"files": n, "job_s": round(job_s, 3), "work_s": round(work_s, 3), "cpu_s": round(cpu_s, 3),
                           "ms_per_file": round(work_s / n * 1000, 2), "cpu_ms_per_file": round(cpu_s / n * 1000, 2)})
        xs, ys = [g["files"] for g in growth], [g["work_s"] for g in growth]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        cs = [g["cpu_s"] for g in growth]
        mc = statistics.mean(cs)
        cpu_slope = sum((x - mx) * (c - mc) for x, c in zip(xs, cs)) / sum((x - mx) ** 2 for x in xs)
        result["growth"] = {"workers": 2, "runs": growth, "seconds_per_file": round(slope, 4),
                            "fixed_s": round(my - slope * mx, 3), "cpu_seconds_per_file": round(cpu_slope, 4),
                            "cpu_fixed_s": round(mc - cpu_slope * mx, 3)}
    finally:
        _remove(work)
    t = result["throughput"]
    result["headline"] = {
        **{f"{k}_files_per_s": v["files_per_s"] for k, v in t.items()},
        **{f"{k}_frames_per_s": v["frames_per_s"] for k, v in t.items()},
        **{f"{k}_cpu_ms_per_frame": v["cpu_ms_per_frame"] for k, v in t.items()},
        "overhead_ms_per_task": result["overhead"]["overhead_ms_per_task"],
        "overhead_cpu_ms_per_task": result["overhead"]["overhead_cpu_ms_per_task"],
        "growth_ms_per_file": round(result["growth"]["seconds_per_file"] * 1000, 2),
    }
    return write_result("bench_batch", result)


if __name__ == "__main__":
    main()
