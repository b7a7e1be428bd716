"""The Model Explorer's library on FER2013 PublicTest (3,589 face crops): evaluation with per-face facts and
features, the 2-D map, and reopening a cached run.

    .venv/bin/python -m benchmarks.bench_explore [--data data/PublicTest] [--model fast]

Targets (issue 26): the fast model evaluates the set in under 10 s including its per-face facts, the map of
those faces draws in under 15 s, a cached set reopens in under 2 s. Wall and CPU seconds are both recorded:
the machine is shared, and CPU seconds say what an idle machine would take (up to the cores used).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, load, write_result


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "PublicTest"))
    parser.add_argument("--model", default="fast")
    args = parser.parse_args(argv)
    load_start = load()
    from fer_core.explore import embed_2d, evaluate_set, open_folder

    labelled, opened = timed(lambda: open_folder(args.data))
    with tempfile.TemporaryDirectory() as cache:
        run, evaluation = timed(lambda: evaluate_set(labelled, args.model, cache_dir=Path(cache)))
        _, reopen = timed(lambda: evaluate_set(open_folder(args.data), args.model, cache_dir=Path(cache)))
    _, table_only = timed(lambda: evaluate_set(labelled, args.model, features=False, cache=False))
    _, pca = timed(lambda: embed_2d(run.features, "pca"))
    _, tsne = timed(lambda: embed_2d(run.features, "tsne"))
    return write_result("bench_explore", {
        "data": str(Path(args.data).relative_to(ROOT)) if Path(args.data).is_relative_to(ROOT) else args.data,
        "faces": len(run.table), "model": run.model, "feature_dimensions": int(run.features.shape[1]),
        "accuracy": round(run.accuracy, 4), "load_at_start": load_start,
        "open_folder": opened,
        "evaluate_with_facts_and_features": evaluation | {"target_s": 10},
        "evaluate_table_only": table_only,
        "reopen_cached": reopen | {"target_s": 2},
        "map_pca": pca,
        "map_tsne": tsne | {"target_s": 15},
    })


if __name__ == "__main__":
    main()
