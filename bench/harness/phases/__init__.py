"""The workload, one module per kind of operation; `workload.run_all` runs them in order."""
