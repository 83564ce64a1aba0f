#!/usr/bin/env bash
# The prepared GPU check: run it ONCE on a lent GPU machine (device tool), <= 9 minutes (step caps 120+240+180 s).
#   here:   bash benchmarks/gpu_wheels.sh                       (grader wheels the GPU image lacks -> .whl/)
#   device: run command "bash benchmarks/gpu_check.sh", carry [".whl"], timeout_s 570
# Everything it prints also lands in $OUT (logs come back with the reply). Steps, each with its own time cap:
#   1. versions and the GPU;
#   2. the GPU tests: engine on CUDA (== HF generate, == recompute, == CPU, static/compiled == dynamic with CUDA
#      graphs), training on CUDA (bf16 autocast, gradient checkpointing, KL terms, bf16 junior, resume), eval on CUDA;
#   3. the engine benchmark at real shapes (random-init Qwen3-4B senior / Qwen3-0.6B junior, bf16, batch 64):
#      dynamic, static and compiled decoding, solo vs HF generate and tandem vs solo;
#   4. a few RL training steps at the same shapes (bench_train_step.py): GRPO and tandem step, rollout, update times.
# Record what it prints in docs/benchmarks.md with this command.
#   bash benchmarks/gpu_check.sh --dry-run    # on a CPU machine: every step at smoke size (the tests run this)
# Without a GPU and without --dry-run it stops at once with exit code 2 and says so.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
dry=0
case "${1:-}" in
  --dry-run) dry=1 ;;
  "") ;;
  *) echo "usage: bash benchmarks/gpu_check.sh [--dry-run]" >&2; exit 2 ;;
esac
if [ "$dry" = 0 ] && ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu_check.sh: no CUDA GPU visible to torch here; this script is for a lent GPU machine." >&2
  echo "  On a CPU, 'bash benchmarks/gpu_check.sh --dry-run' runs every step at smoke size." >&2
  exit 2
fi
if [ "$dry" = 1 ]; then  # the same steps, CPU-sized: proves the commands and their arguments still work
  bench_args=(--smoke --device cpu --decode dynamic,static)
  train_args=(--smoke)
  gpu_info() { echo "dry run on the CPU: no GPU queried"; }
else
  bench_args=(--preset qwen3 --device cuda --decode dynamic,static,compiled)
  train_args=(--preset qwen3 --device cuda)
  gpu_info() { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; }
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PWD"
else
  export PYTHONPATH="$PWD"
  echo "no .whl/: training and eval tests need math-verify (run benchmarks/gpu_wheels.sh here first)"
fi
{
  gpu_info
  python3 -c "import torch, transformers, sys; print('python', sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.version.cuda, 'transformers', transformers.__version__)"
} 2>&1 | tee "$OUT/env.txt"

echo "== GPU tests"
timeout 120 python3 -m pytest -p no:cacheprovider -q -rs tests/test_gpu_engine_train.py tests/test_eval_gpu.py 2>&1 \
  | tee "$OUT/tests.txt"
tests_rc=${PIPESTATUS[0]}

echo "== engine benchmark: bench_cogen.py ${bench_args[*]}"
timeout 240 python3 benchmarks/bench_cogen.py "${bench_args[@]}" 2>&1 \
  | tee "$OUT/bench_cogen.txt"
bench_rc=${PIPESTATUS[0]}

echo "== training-step benchmark: bench_train_step.py ${train_args[*]}"
timeout 180 python3 benchmarks/bench_train_step.py "${train_args[@]}" 2>&1 | tee "$OUT/bench_train_step.txt"
train_rc=${PIPESTATUS[0]}
echo "tests rc=$tests_rc bench rc=$bench_rc train rc=$train_rc" | tee "$OUT/summary.txt"
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ] && [ "$train_rc" = 0 ]
