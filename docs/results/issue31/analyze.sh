#!/bin/bash
# Issue #31: every number of docs/sweep.md "The decisive control" from the trained runs, re-runnable by one command:
#   bash /tmp/c31/analyze.sh [SEEDS] [ARMS]   (defaults 0,1,2,3,4 and grpo,tandem_weak,grpo_plain,tandem_skipjr)
# Seeds 0-1 of grpo / tandem_weak come from /tmp/fresh28/runs/demo (the README's `tandem-rl demo`, same config and
# assets) when /tmp/demo5 lacks them. Generation happens once per label; later calls read the samples back (--reuse) and recompute every summary,
# anatomy and interval with the installed tandem-rl. Runs: /tmp/demo5/runs/{grpo,tandem_weak}_s<k> (tandem-rl demo
# --seeds 5 --out /tmp/demo5), /tmp/c31/runs/{grpo_plain,tandem_skipjr}_s<k> (train_control.py, train_skipjr.py).
# Writes /tmp/c31/eval (100 problems, budget rule), /tmp/c31/eval_oldrule (anatomy without the budget rule),
# /tmp/c31/eval23 (the 2-3-operation problems), breakdown.txt, results.txt.
set -e
SEEDS=${1:-0,1,2,3,4}
ARMS=${2:-grpo,tandem_weak,grpo_plain,tandem_skipjr}
. /tmp/venv/bin/activate
cd /tmp/c31
export OMP_NUM_THREADS=1
SEN=()
for a in ${ARMS//,/ }; do
  for s in ${SEEDS//,/ }; do
    case $a in
      grpo|tandem_weak) root=/tmp/demo5/runs; [ -d $root/${a}_s$s ] || root=/tmp/fresh28/runs/demo/runs ;;
      *) root=/tmp/c31/runs ;;
    esac
    SEN+=(--senior ${a}_s$s=$root/${a}_s$s)
  done
done
python make_configs.py config /tmp/c31/eval_in.yaml $SEEDS $ARMS
E=(--junior world:junior --base world:senior --reuse --no-progress)
nice -n 5 tandem-rl eval /tmp/c31/eval_in.yaml "${SEN[@]}" "${E[@]}" --out /tmp/c31/eval
# the same samples, the anatomy as counted before issue 31 (the world checker without its budget rule)
for d in /tmp/c31/eval/*/; do l=$(basename $d); mkdir -p eval_oldrule/$l; cp $d/samples.jsonl eval_oldrule/$l/; done
PYTHONPATH=/tmp/c31 nice -n 5 tandem-rl eval /tmp/c31/eval_in.yaml "${SEN[@]}" "${E[@]}" --step-checker oldrule:check \
  --out /tmp/c31/eval_oldrule
# 2-3-operation problems: those problems' records, summarised again with --reuse (nothing is generated)
rm -rf /tmp/c31/eval23
python make_configs.py subset /tmp/c31/eval /tmp/c31/eval23
nice -n 5 tandem-rl eval /tmp/c31/eval23/eval_in.yaml "${SEN[@]}" "${E[@]}" --out /tmp/c31/eval23
tandem-rl world breakdown /tmp/c31/eval > /tmp/c31/breakdown.txt
python report.py > /tmp/c31/results.txt
cat /tmp/c31/breakdown.txt /tmp/c31/results.txt
