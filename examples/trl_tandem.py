"""Train the embedded world's senior with TRL's ``GRPOTrainer`` and the tandem ``rollout_func``, on a CPU.

    pip install -e ".[trl]"
    python examples/trl_tandem.py                         # tandem RL (the paper's word schedule), 60 steps
    python examples/trl_tandem.py --schedule solo         # vanilla GRPO, through the same adapter
    python examples/trl_tandem.py --steps 3 --eval 16     # a smoke run

Everything TRL-side is an ordinary TRL setup (a dataset with a ``prompt`` column, a reward function, a
``GRPOConfig``); the tandem part is the one argument ``rollout_func=tandem_rollout_func(junior)``. The world
(docs/world.md): the senior answers arithmetic word problems in a private "jargon" notation (``<<20-2=18>>``) that
the junior cannot continue; tandem training should drive the jargon rate down and the junior's handoff accuracy up.
Before and after training the script measures, on held-out problems (one sample each, T = 1): solo accuracy, the
jargon rate of the senior's solo answers, and handoff accuracy (the paragraph schedule: senior and junior take turns
at each reasoning step). Measured wall time and figures: docs/integrations.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # TRL warns that rollout_func is experimental


def world_rows(split: str, limit: int | None = None) -> list[dict]:
    """The shipped world problems as TRL rows: a conversational ``prompt`` and the gold ``answer`` column."""
    from tandem_rl.data.prompts import user_message
    from tandem_rl.world.assets import problems_file
    from tandem_rl.world.problems import INSTRUCTION

    rows = [json.loads(line) for line in problems_file(split).read_text().splitlines() if line.strip()]
    return [{"prompt": [{"role": "user", "content": user_message(r["problem"], INSTRUCTION)}], "answer": r["answer"]}
            for r in rows[:limit]]


def correct(completions, answer, **kw) -> list[float]:
    """TRL reward function: 1.0 when the last ``\\boxed{}`` of the whole (co-written) completion equals the gold.

    ``quick_grade`` is tandem-rl's string + exact-numeric grader (no sympy, bounded cost); world answers are
    integers, which it always decides."""
    from tandem_rl.rewards import quick_grade

    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
    decided = [quick_grade(t, gold)[0] for t, gold in zip(texts, answer)]
    return [r.reward if r is not None else 0.0 for r in decided]  # undecided (never for integers): wrong


def evaluate(senior, junior, tok, rows, seed: int = 0) -> dict:
    """Solo accuracy, jargon rate of the solo answers, and paragraph-handoff accuracy (one sample per problem)."""
    from tandem_rl.cogen.config import RolloutConfig
    from tandem_rl.cogen.engine import CoGenerator

    ids = [tok.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True, return_dict=True)
           ["input_ids"] for r in rows]
    gold = [r["answer"] for r in rows]
    gen = CoGenerator(senior, junior, tok)
    out = {}
    for name, schedule in (("solo", "solo"), ("handoff", "paragraph")):
        ro = gen.generate(ids, RolloutConfig(schedule=schedule, temperature=1.0, max_new_tokens=32), seed=seed)
        texts = tok.batch_decode(ro.response_ids, skip_special_tokens=True)
        out[f"{name}_acc"] = sum(correct(texts, gold)) / len(rows)
        if name == "solo":
            out["jargon_rate"] = sum("<<" in t or ">>" in t for t in texts) / len(rows)
    return out


class ShortLog(TrainerCallback):
    """One short line per logging step (TRL's means over the last ``logging_steps``): reward, senior share, loss."""

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "reward" in logs:
            print(f"step {state.global_step:4d}  reward {logs['reward']:.3f}  senior share "
                  f"{logs.get('tandem/senior_fraction', float('nan')):.2f}  loss {logs.get('loss', 0.0):+.4f}",
                  flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--schedule", default="word", help="word (tandem, the paper's), solo (vanilla GRPO), token, ...")
    p.add_argument("--steps", type=int, default=60, help="optimizer steps (one generation batch each)")
    p.add_argument("--prompts", type=int, default=8, help="prompts per step (each rolled out --group times)")
    p.add_argument("--group", type=int, default=8, help="num_generations (G)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--eval", type=int, default=100, help="held-out problems evaluated before and after (0 = skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--out", default="runs/trl_tandem")
    a = p.parse_args(argv)

    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from tandem_rl.cogen.config import RolloutConfig
    from tandem_rl.integrations.trl import tandem_rollout_func
    from tandem_rl.models import freeze, load_model, load_tokenizer

    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    tok = load_tokenizer("world:senior")
    senior = load_model("world:senior", device="cpu")
    junior = freeze(load_model("world:junior", device="cpu"))
    held = world_rows("test", a.eval) if a.eval else []
    before = evaluate(senior, junior, tok, held, a.seed) if held else {}

    args = GRPOConfig(
        output_dir=a.out, max_steps=a.steps, per_device_train_batch_size=a.prompts * a.group,
        num_generations=a.group, gradient_accumulation_steps=1, max_completion_length=32, temperature=1.0,
        learning_rate=a.lr, lr_scheduler_type="constant", max_grad_norm=1.0, loss_type="dapo", beta=0.0,
        seed=a.seed, use_cpu=True, bf16=False, gradient_checkpointing=False, report_to="none", save_strategy="no",
        logging_steps=max(1, a.steps // 12), disable_tqdm=True)
    # vanilla GRPO through the same adapter is the solo schedule; tandem needs nothing but the junior
    rollout = None if a.schedule == "word" else RolloutConfig(schedule=a.schedule, temperature=1.0, max_new_tokens=32)
    trainer = GRPOTrainer(model=senior, reward_funcs=correct, args=args, processing_class=tok,
                          train_dataset=Dataset.from_list(world_rows("train")),
                          rollout_func=tandem_rollout_func(junior, rollout),   # <- the tandem change
                          callbacks=[ShortLog()])
    trainer.remove_callback(PrinterCallback)  # its full metric dicts, replaced by ShortLog's lines
    trainer.train()
    after = evaluate(trainer.model, junior, tok, held, a.seed) if held else {}

    if held:
        print(f"\n{len(held)} held-out problems, one sample each (T = 1):")
        print(f"{'':16s}{'solo acc':>10s}{'handoff acc':>13s}{'jargon rate':>13s}")
        for name, m in (("initial senior", before), (f"after {a.schedule}", after)):
            print(f"{name:16s}{m['solo_acc']:10.2f}{m['handoff_acc']:13.2f}{m['jargon_rate']:13.2f}")
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
