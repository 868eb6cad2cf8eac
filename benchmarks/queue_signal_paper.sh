#!/usr/bin/env bash
# Issue 31's two long benchmarks one after the other, never two at once on a shared machine:
# waits for a running process (the signal run started earlier) if given its PID, finishes the
# signal run (bench_signal resumes: finished rows are skipped, then it prints the statistics),
# then the paper setting: the SGD learning rate chosen on the validation split, then 3 seeds.
# Run from the repository root; the Python scripts next to this file are the ones that run.
#   PYTHONPATH=$PWD nohup nice -n 10 benchmarks/queue_signal_paper.sh [PID] > runs/queue.log 2>&1 &
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PY:-.venv/bin/python}
signal_out=${SIGNAL_OUT:-runs/signal}
paper_out=${PAPER_OUT:-runs/paper}
export OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1
if [ -n "${1:-}" ]; then
    echo "$(date -u +%FT%TZ) waiting for process $1"
    while kill -0 "$1" 2>/dev/null; do sleep 60; done
fi
mkdir -p "$signal_out" "$paper_out"
echo "$(date -u +%FT%TZ) signal run"
"$py" "$here/bench_signal.py" --out "$signal_out" --threads 1 >> "$signal_out/log.txt" 2>&1
echo "$(date -u +%FT%TZ) paper setting: learning rate on the validation split"
"$py" "$here/bench_paper.py" --out "$paper_out" --select-lr 0.0001 0.0003 0.001 0.003 --threads 1 >> "$paper_out/log.txt" 2>&1
echo "$(date -u +%FT%TZ) paper setting: 3 seeds"
"$py" "$here/bench_paper.py" --out "$paper_out" --threads 1 >> "$paper_out/log.txt" 2>&1
echo "$(date -u +%FT%TZ) done"
