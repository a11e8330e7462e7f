"""The side-by-side benchmark harness: `python -m bench.harness` (or `make bench`).

servers.py starts and stops the servers and names every process they run;
cpu.py reads their CPU time and memory from /proc; phases/ are the workload;
report.py prints the table and writes the JSON.
"""
