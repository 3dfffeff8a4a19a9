"""Benchmarks against the local moto stack (`make bench`); results go to BENCHMARKS.md."""
