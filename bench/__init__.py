"""Benchmarks of dendray, side by side with Synapse (see RESULTS.md)."""
