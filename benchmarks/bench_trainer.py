"""Trainer throughput: tandem-rl's loop (schedule solo = vanilla GRPO) vs HF TRL's ``GRPOTrainer``, same setup.

Same tiny CPU model (Llama, from ``tests/tiny.py``), same prompts (chat template, one user message), same batch
(P prompts x G rollouts, 2 optimizer updates per rollout batch, 1 epoch), same lengths (max_new_tokens), T = 1.0,
token-mean loss (TRL ``loss_type="dapo"``), no KL, lr 1e-6, grad clip 1.0, fp32. Both get the same reward rule
(1 when the decoded completion has an even number of characters), so rewards vary within groups and both run
full updates; grading cost is kept out of the comparison.

Figures (per framework, summed over all steps):
- rollout tokens/s  = generated tokens / seconds inside generation;
- update tokens/s   = (prompt + completion tokens of the batch) / (step time - generation time - reward time);
- end-to-end        = generated tokens / training wall time (excluding model loading).

    python benchmarks/bench_trainer.py                  # defaults: 8 prompts x 8, 64 new tokens, 4 steps
    python benchmarks/bench_trainer.py --steps 6 --hidden 128 --layers 4 --max-new-tokens 96
    python benchmarks/bench_trainer.py --smoke          # seconds: 1 step, tiny sizes; checks the script still runs

Prints both frameworks' figures and the ratio ours / TRL (target >= 1.0x). Timings on a shared CPU vary by
+-15% or more between runs; use ``--repeats`` and compare medians.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

PROMPTS = ["Tom has 12 apples and buys 7 more. How many apples does he have now?",
           "Let x be the number. Then 2x + 3 = 11. What is x?",
           "First, compute 3 times 4, then add 5.",
           "The fraction 1/2 equals what decimal?",
           "What is 12 plus 7?",
           "Compute 3 times 4 plus 5.",
           "Simplify the square root of 8.",
           "Tom has 19 apples. How many does he have?"]


def parity_reward(text: str) -> float:
    return float(len(text.strip()) % 2 == 0)


def make_model(root: Path, hidden: int, layers: int) -> Path:
    from tiny import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=0, hidden=hidden, layers=layers, heads=4)
    with torch.no_grad():  # small init: a flat next-token distribution, so texts (and rewards) vary
        model.get_input_embeddings().weight.normal_(0.0, 0.02)
    model.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    return root / "model"


def run_ours(root: Path, model_dir: Path, a) -> dict:
    from tandem_rl.config import load_config
    from tandem_rl.rewards import FunctionGrader
    from tandem_rl.train import loop

    problems = root / "problems.jsonl"
    problems.write_text("".join(json.dumps({"problem": p, "answer": "0"}) + "\n" for p in PROMPTS))
    out = root / f"ours-{time.time_ns()}"
    cfg = load_config(None, [
        f"model.senior={model_dir}", f"data.source={problems}", "data.instruction=", f"train.output_dir={out}",
        "rollout.schedule=solo", f"rollout.max_new_tokens={a.max_new_tokens}", "rollout.temperature=1.0",
        f"train.steps={a.steps}", f"train.prompts_per_step={a.prompts}", f"grpo.group_size={a.group}",
        "train.mini_batches=2", "train.lr=1e-6", "train.loggers=[jsonl]", "train.save_every=0",
        "train.dump_rollouts_every=0", f"train.micro_batch_tokens={a.micro_batch_tokens}", "model.device=cpu"])
    # the same reward rule as the TRL side, through the loop's grader argument: grading cost kept out
    run = loop.train(cfg, progress=False, grader=FunctionGrader(lambda text, gold: parity_reward(text)))
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    gen_tok = sum(r["rollout_tokens"] for r in rows)
    gen_s = sum(r["rollout_seconds"] for r in rows)
    total_s = sum(r["step_seconds"] for r in rows)
    reward_s = sum(r["grade_seconds"] for r in rows)
    upd_tok = gen_tok + _batch_prompt_tokens(model_dir, a)
    return {"gen_tokens": gen_tok, "gen_s": gen_s, "update_s": total_s - gen_s - reward_s, "total_s": total_s,
            "update_tokens": upd_tok, "mean_len": gen_tok / (a.steps * a.prompts * a.group)}


def _prompt_ids(model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    return [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True)["input_ids"]
            for p in PROMPTS]


def _batch_prompt_tokens(model_dir, a) -> int:
    """Prompt tokens over all steps (each prompt appears once per epoch of the 8-prompt set; here P == 8)."""
    ids = _prompt_ids(model_dir)
    per_prompt = sum(len(x) for x in ids) / len(ids)
    return int(per_prompt * a.prompts * a.group * a.steps)


def run_trl(root: Path, model_dir: Path, a) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in PROMPTS] * (a.steps + 1))

    def reward(completions, **kw):
        return [parity_reward(c[0]["content"] if isinstance(c, list) else c) for c in completions]

    rows = a.prompts * a.group
    args = GRPOConfig(output_dir=str(root / "trl"), per_device_train_batch_size=rows // 2, steps_per_generation=2,
                      gradient_accumulation_steps=1, num_generations=a.group, max_completion_length=a.max_new_tokens,
                      temperature=1.0, learning_rate=1e-6, max_grad_norm=1.0, loss_type="dapo", beta=0.0,
                      max_steps=2 * a.steps, use_cpu=True, bf16=False, report_to="none", save_strategy="no",
                      logging_steps=1000, disable_tqdm=True, disable_dropout=True, seed=0, num_iterations=1, lr_scheduler_type="constant",
                      warmup_steps=0, weight_decay=0.01)
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=data, processing_class=tok)
    stats = {"gen_tokens": 0, "gen_s": 0.0, "reward_s": 0.0, "prompt_tokens": 0}
    gen, rew = trainer._generate_single_turn, trainer._calculate_rewards

    def timed_gen(prompt_ids, *x, **k):
        t = time.perf_counter()
        out = gen(prompt_ids, *x, **k)
        stats["gen_s"] += time.perf_counter() - t
        stats["gen_tokens"] += sum(len(c) for c in out[0])
        stats["prompt_tokens"] += sum(len(p) for p in prompt_ids)
        return out

    def timed_rew(*x, **k):
        t = time.perf_counter()
        out = rew(*x, **k)
        stats["reward_s"] += time.perf_counter() - t
        return out

    trainer._generate_single_turn, trainer._calculate_rewards = timed_gen, timed_rew
    clock = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, *x, **k):
            clock["t0"] = time.perf_counter()

        def on_train_end(self, *x, **k):
            clock["t1"] = time.perf_counter()

    trainer.add_callback(Clock())
    trainer.train()
    total = clock["t1"] - clock["t0"]
    return {"gen_tokens": stats["gen_tokens"], "gen_s": stats["gen_s"],
            "update_s": total - stats["gen_s"] - stats["reward_s"], "total_s": total,
            "update_tokens": stats["gen_tokens"] + stats["prompt_tokens"],
            "mean_len": stats["gen_tokens"] / (a.steps * rows)}


def figures(r: dict) -> dict:
    return {"rollout_tok_s": r["gen_tokens"] / r["gen_s"], "update_tok_s": r["update_tokens"] / r["update_s"],
            "end_to_end_tok_s": r["gen_tokens"] / r["total_s"], "mean_len": r["mean_len"]}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4, help="rollout batches (TRL: 2x optimizer steps)")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--micro-batch-tokens", type=int, default=8192)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    p.add_argument("--smoke", action="store_true",
                   help="1 step, 2 rollouts per prompt, 8 new tokens, h32 L1: seconds, for the tests")
    a = p.parse_args(argv)
    if a.smoke:
        a.steps, a.group, a.max_new_tokens, a.hidden, a.layers, a.repeats = 1, 2, 8, 32, 1, 1
    if a.prompts != len(PROMPTS):
        raise SystemExit(f"--prompts must be {len(PROMPTS)} (one pass over the fixed prompt set per step)")
    if a.threads:
        torch.set_num_threads(a.threads)
    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    results = {"ours": [], "trl": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = make_model(root, a.hidden, a.layers)
        for _ in range(a.repeats):  # alternate, so load changes on a shared machine hit both
            results["ours"].append(figures(run_ours(root, model_dir, a)))
            results["trl"].append(figures(run_trl(root, model_dir, a)))
    print(f"setup: tiny Llama h{a.hidden} L{a.layers}, {a.prompts} prompts x {a.group}, max_new_tokens "
          f"{a.max_new_tokens}, {a.steps} steps, 2 updates/step, CPU threads {torch.get_num_threads()}")
    keys = ("rollout_tok_s", "update_tok_s", "end_to_end_tok_s", "mean_len")
    for k in range(a.repeats):
        o, t = results["ours"][k], results["trl"][k]
        print(f"run {k + 1}: " + ", ".join(f"{f} {o[f]:.1f} vs {t[f]:.1f} ({o[f] / t[f]:.2f}x)" for f in keys[:3]))
    med = {k: {f: statistics.median(r[f] for r in v) for f in keys} for k, v in results.items()}
    print(f"median over {a.repeats} alternating run(s):")
    print(f"{'':18s}{'tandem-rl':>12s}{'TRL':>12s}{'ratio':>8s}")
    for f in keys:
        ratio = med["ours"][f] / med["trl"][f]
        print(f"{f:18s}{med['ours'][f]:12.1f}{med['trl'][f]:12.1f}{ratio:7.2f}x")


if __name__ == "__main__":
    main()
