"""Training-step time at real model shapes: a few steps of tandem-rl's trainer on random-init models (not a test).

For each schedule asked (``solo`` = vanilla GRPO, ``word`` = tandem with the small junior) this runs
``tandem_rl.train.loop.train`` for ``--steps`` steps on random-init models of a preset's shapes, the paper's batch
layout (``--prompts`` x ``--group`` rollouts, 2 mini-batches), T 0.6, a reward rule that varies within groups
(parity of the response's length, through ``rewards.FunctionGrader``: grading cost kept out, every group trains),
no checkpoint written. It prints, per schedule, the median over the steps after the first (which holds warm-up) of
the rollout, update and whole-step seconds, generated tokens per second, and the tandem / solo ratio; on CUDA also
the peak memory.

    python benchmarks/bench_train_step.py --smoke                         # CPU, seconds: checks the script runs
    python benchmarks/bench_train_step.py --preset qwen3 --device cuda    # Qwen3-4B / 0.6B shapes, bf16 autocast

``qwen3`` (a GPU with >= 80 GB): senior kept in fp32 (AdamW master weights) with bf16 autocast and gradient
checkpointing, junior in bf16, both on the one GPU; 16 prompts x 8, 64 new tokens, 3 steps. The random-init models
are written to a temporary folder first (~10 GB for this preset). No downloads: the vocabulary is the tiny test
tokenizer's (``tests/tiny.py``) inside a model of the preset's full vocabulary size, so every forward and the
log-softmax cost what they cost at the real shape.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from bench_cogen import PRESETS, build  # noqa: E402  (same shapes as the engine benchmark)

SETTINGS = {  # preset: (prompts, group, new tokens, steps, cuda-only memory knobs)
    "qwen3": (16, 8, 64, 3),
    "tiny": (8, 4, 32, 3),
    "smoke": (4, 2, 8, 2),
}


def make_models(root: Path, preset: str, device: str) -> tuple[Path, Path]:
    from tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    s_shape, j_shape, vocab, *_ , dtype_name = PRESETS[preset]
    vocab = max(vocab, len(tok))  # the model may be wider than the tokenizer; the engine samples real ids only
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype_name]
    paths = []
    for name, shape, seed in (("senior", s_shape, 0), ("junior", j_shape, 1)):
        model = build(shape, vocab, dtype, device, seed)
        model.config.eos_token_id = tok.eos_token_id
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        paths.append(root / name)
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return paths[0], paths[1]


def run(root: Path, senior: Path, junior: Path, schedule: str, a) -> dict:
    from tandem_rl.config import load_config
    from tandem_rl.rewards import FunctionGrader
    from tandem_rl.train.loop import train

    problems = root / "problems.jsonl"
    problems.write_text("".join(json.dumps({"problem": f"Problem {i}: add {i} and {i + 1}.", "answer": "0"}) + "\n"
                                for i in range(4 * a.prompts)))
    cuda = a.device.startswith("cuda")
    out = root / f"run-{schedule}-{time.time_ns()}"
    overrides = [
        f"model.senior={senior}", f"model.device={a.device}", "model.dtype=float32",
        f"data.source={problems}", "data.instruction=", "data.holdout=0", f"train.output_dir={out}",
        f"rollout.schedule={schedule}", f"rollout.max_new_tokens={a.new_tokens}", "rollout.temperature=0.6",
        f"train.steps={a.steps}", f"train.prompts_per_step={a.prompts}", f"grpo.group_size={a.group}",
        "train.mini_batches=2", "train.lr=1e-6", "train.loggers=[jsonl]", "train.save_every=0",
        "train.save_final=false", "train.dump_rollouts_every=0", "reward.workers=0"]
    if schedule != "solo":
        overrides.append(f"model.junior={junior}")
    if cuda:
        overrides += ["train.mixed_precision=bf16", "model.gradient_checkpointing=true", "model.junior_dtype=bfloat16"]
        torch.cuda.reset_peak_memory_stats()
    grader = FunctionGrader(lambda text, gold: float(len(text.strip()) % 2 == 0))
    t0 = time.perf_counter()
    run_dir = train(load_config(None, overrides), progress=False, grader=grader)
    wall = time.perf_counter() - t0
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    timed = rows[1:] or rows  # the first step holds warm-up (allocator, kernels, caches)
    med = {k: statistics.median(r[k] for r in timed)
           for k in ("rollout_seconds", "update_seconds", "step_seconds", "rollout_tokens")}
    med["wall_s"] = wall
    med["peak_gb"] = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    return med


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(SETTINGS), default="tiny")
    ap.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    ap.add_argument("--schedules", default="solo,word", help="comma-separated: solo, word, ...")
    ap.add_argument("--prompts", type=int, default=None)
    ap.add_argument("--group", type=int, default=None)
    ap.add_argument("--new-tokens", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--smoke", action="store_true", help="--preset smoke on the CPU: seconds, for the tests")
    a = ap.parse_args(argv)
    if a.smoke:
        a.preset, a.device = "smoke", a.device or "cpu"
    a.device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    prompts, group, new, steps = SETTINGS[a.preset]
    a.prompts, a.group = a.prompts or prompts, a.group or group
    a.new_tokens, a.steps = a.new_tokens or new, a.steps or steps
    if a.steps < 2:
        ap.error("--steps must be >= 2 (the first step is warm-up)")
    if a.threads:
        torch.set_num_threads(a.threads)
    import transformers

    print(f"# bench_train_step preset={a.preset} device={a.device} prompts={a.prompts} x group={a.group} "
          f"new_tokens={a.new_tokens} steps={a.steps} torch={torch.__version__} transformers={transformers.__version__}")
    if a.device.startswith("cuda"):
        print(f"# gpu: {torch.cuda.get_device_name(a.device)}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        senior, junior = make_models(root, a.preset, a.device)
        print(f"# random-init models written in {time.perf_counter() - t0:.1f} s")
        for schedule in [s for s in a.schedules.split(",") if s]:
            results[schedule] = r = run(root, senior, junior, schedule, a)
            print(f"{schedule:>6}: step {r['step_seconds']:.3f} s (rollout {r['rollout_seconds']:.3f} s, update "
                  f"{r['update_seconds']:.3f} s), {r['rollout_tokens'] / r['rollout_seconds']:.1f} generated tok/s, "
                  f"run wall {r['wall_s']:.1f} s, peak {r['peak_gb']:.1f} GB", flush=True)
    if "solo" in results:
        for schedule, r in results.items():
            if schedule != "solo":
                s = results["solo"]
                print(f"{schedule} / solo: step {r['step_seconds'] / s['step_seconds']:.3f}, rollout "
                      f"{r['rollout_seconds'] / s['rollout_seconds']:.3f}, update "
                      f"{r['update_seconds'] / s['update_seconds']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
