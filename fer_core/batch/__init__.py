"""Batch analysis of whole archives on Dask distributed: a `LocalCluster` by default, a cluster by address.

    python -m fer_core.batch archive/ "more/**/*.mp4" --out results/ [--workers N | --scheduler tcp://host:8786]

    from fer_core.batch import BatchOptions, run_batch, open_results
    report = run_batch(["archive/"], BatchOptions(out=Path("results")))
    results = open_results("results")          # results.files, results.errors, results.faces(["a.mp4"])

A photo is one task; a video is cut into time chunks at keyframes that run on any worker and are stitched
back in time order with one track id per face (`plan`, `tasks`, `stitch`). Results go to a Parquet dataset
in the project's results layout, partitioned by input file, with a per-file summary, an errors table and a
manifest so a rerun skips finished inputs (`store`). The modules, one job each:

    inputs   INPUT arguments -> files, with their names in the results and their partition keys
    plan     a video -> chunks that start on keyframes and overlap the next one
    tasks    what a worker runs: a photo, a video's plan, a chunk (no Dask import)
    stitch   a video's chunks -> one table in time order, track ids carried across the cuts
    store    the output folder: partitions, manifest, files and errors tables, atomic writes; reading back
    cluster  a LocalCluster or a scheduler address; the worker plugin that loads the model once
    runner   run_batch: the client's loop, progress, Ctrl-C
    cli      the command line

Nothing here is imported by `import fer_core`; Dask is imported only when a job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import BatchOptions, BatchReport, Progress, run_batch
    from .store import BatchResults, open_results

__all__ = ["BatchOptions", "BatchReport", "Progress", "run_batch", "BatchResults", "open_results"]


def __getattr__(name: str) -> Any:
    if name in ("BatchOptions", "BatchReport", "Progress", "run_batch"):
        from . import runner

        return getattr(runner, name)
    if name in ("BatchResults", "open_results"):
        from . import store

        return getattr(store, name)
    raise AttributeError(name)
