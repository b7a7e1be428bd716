"""What a test can ask of the modules this process has loaded."""

from __future__ import annotations


def newly_imported(before: set[str], *names: str) -> list[str]:
    """Which of `names` this test imported (modules loaded since `before = set(sys.modules)`).

    The suite runs in one process and earlier tests train networks, so TensorFlow may be loaded already: what a
    page or a job must not do is load it itself. The browser test `test_training_runs_outside_the_server...`
    checks the real server process from a fresh start (/proc/PID/maps).
    """
    import sys

    return [n for n in names if n in sys.modules and n not in before]
