"""Benchmarks: each module here has `main(argv) -> int` and prints tables. Not tests."""
