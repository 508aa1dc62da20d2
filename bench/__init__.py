"""Benchmarks: each ``bench/bench_<name>.py`` writes ``bench/results/<name>.json``."""
