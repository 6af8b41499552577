"""Benchmarks: one script per hot path, each printing a table and writing JSON (see common)."""
