#!/bin/bash
# Issue #31: `tandem-rl world arithmetic` (teacher forcing at T 1 / T 0.7 / the evaluation's decoding, and each
# model's own solo samples at that decoding) on every model that exists; one model per call, JSON per model in
# /tmp/c31/probe/, skipped when present. Usage: bash probe.sh [LIMIT]   then: python probe_table.py
LIMIT=${1:-200}
. /tmp/venv/bin/activate
mkdir -p /tmp/c31/probe
export OMP_NUM_THREADS=1
run() {  # label path
  [ -s /tmp/c31/probe/$1.json ] && return 0
  [ "$2" = world:senior ] || [ -f $2/checkpoints/latest.txt ] || { echo "skip $1 (not finished)"; return 0; }
  nice -n 5 tandem-rl world arithmetic $1=$2 --limit $LIMIT --json > /tmp/c31/probe/$1.json.tmp 2>/tmp/c31/probe/$1.err \
    && mv /tmp/c31/probe/$1.json.tmp /tmp/c31/probe/$1.json && echo "done $1 $(date +%T)"
}
run initial world:senior
for s in 0 1 2 3 4; do
  run grpo_plain_s$s /tmp/c31/runs/grpo_plain_s$s
  for a in grpo tandem_weak; do
    if [ -d /tmp/demo5/runs/${a}_s$s ]; then run ${a}_s$s /tmp/demo5/runs/${a}_s$s; else run ${a}_s$s /tmp/fresh28/runs/demo/runs/${a}_s$s; fi
  done
  run tandem_skipjr_s$s /tmp/c31/runs/tandem_skipjr_s$s
done
