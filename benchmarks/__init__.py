"""Benchmarks for emotion-recognition-fer: `python -m benchmarks.run_all` (or `make bench`). See README.md."""
