#!/usr/bin/env bash
# Fetch (here, where PyPI is reachable) the pure-Python wheels the GPU check needs that the lent GPU machine's image
# lacks (it has torch, transformers, accelerate, tokenizers, safetensors, scipy, pytest, hypothesis, ...; not the
# grader's math-verify stack). They land in .whl/ (git-ignored); the device call carries that folder:
#   bash benchmarks/gpu_wheels.sh
#   device run: command "bash benchmarks/gpu_check.sh", carry [".whl"], timeout_s 540
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .whl \
    math-verify==0.9.0 latex2sympy2_extended==1.11.0 antlr4-python3-runtime==4.13.2
ls -la .whl
