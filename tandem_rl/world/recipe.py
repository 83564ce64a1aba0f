"""The deterministic recipe behind the shipped world: tokenizer, junior, senior, problem files, and a world card.

    build("/tmp/world")   # ~20 min on two CPU cores (one model each); writes junior/ senior/ problems/ world_card.json

- junior (~0.5M params): plain solutions only, trained until its T=1 accuracy first reaches ``junior_stop_at``
  (checked every ``junior_eval_every`` steps on a fixed probe set): a useful but weaker partner (a junior trained to
  convergence beats the senior; docs/world.md).
- senior (~1.9M params): all three notations (plain 0.35, terse 0.30, jargon the rest), a fixed number of steps.
Checkpoints are stored in bfloat16 (a few MB in the repository); every figure in the card is measured on the stored,
rounded weights.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from tandem_rl.world.problems import write_problems
from tandem_rl.world.sft import JUNIOR_SHAPE, SENIOR_SHAPE, SFTSettings, n_params, new_model, probe, sft
from tandem_rl.world.tokenizer import build_tokenizer


WORLD_VERSION = 2  # 1: 2-3 operations, plain + jargon (until 2026-11); 2: 2-4 operations, + terse (docs/world.md)


@dataclass
class Recipe:
    junior_max_steps: int = 1500
    junior_eval_every: int = 100
    junior_stop_at: float = 0.55
    senior_steps: int = 800
    senior_eval_every: int = 100  # for the card's learning curve only (the senior never stops early)
    senior_plain_share: float = 0.35
    senior_terse_share: float = 0.30  # design 3 of docs/world.md (design 1's 0.10: terse right in 8.5% of T=1 tries)
    budget_tokens: int = 32  # the RL / evaluation response budget (configs/demo.yaml), for the card's figures
    n_train_problems: int = 4000
    n_test_problems: int = 500
    probe_n: int = 400
    threads: int = 1  # torch threads per process
    jobs: int = 2  # models trained at once
    device: str = "cpu"  # results are deterministic per device type, not across CPU and CUDA
    only: str | None = None  # "junior" or "senior": train that model alone

    def __post_init__(self):
        plain, terse = self.senior_plain_share, self.senior_terse_share
        if not (0 <= plain <= 1 and 0 <= terse <= 1 and plain + terse <= 1):  # also refuses nan
            raise ValueError(f"senior notation shares plain {self.senior_plain_share} + terse "
                             f"{self.senior_terse_share} must be >= 0 and sum to <= 1 (the rest is jargon)")
        if self.only not in (None, "junior", "senior"):
            raise ValueError(f"only must be 'junior', 'senior' or None, got {self.only!r}")


def machine_facts() -> dict:
    """Where a build ran, in neutral words: the card's provenance (bitwise results hold only for the same device
    type, thread count and library versions; docs/world.md "Re-creating them")."""
    import os
    import platform

    import transformers

    return {"cpus": os.cpu_count(), "machine": platform.machine(), "system": platform.system(),
            "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__}


def _round_bf16(model):
    """Round weights through bfloat16 (what gets stored) so that measurements match the shipped files."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    return model


def _measure(model, tok, n: int, budget: int) -> dict:
    t1, g = probe(model, tok, n=n, temperature=1.0, seed=7), probe(model, tok, n=n, temperature=0.0)
    b = probe(model, tok, n=n, temperature=1.0, seed=7, max_new_tokens=budget)
    return {"params": n_params(model), "acc_t1": t1.accuracy, "acc_greedy": g.accuracy,
            "jargon_rate_t1": t1.jargon_rate, "jargon_rate_greedy": g.jargon_rate,
            "acc_t1_plain": t1.accuracy_plain, "acc_t1_jargon": t1.accuracy_jargon,
            "terse_rate_t1": t1.terse_rate, "acc_t1_terse": t1.accuracy_terse, "acc_t1_by_ops": t1.accuracy_by_ops,
            "n_t1_by_notation": t1.n_by_notation,
            f"acc_t1_budget{budget}": b.accuracy, f"acc_t1_budget{budget}_by_ops": b.accuracy_by_ops,
            f"terse_rate_t1_budget{budget}": b.terse_rate, "sample_t1": t1.texts[0], "probe_n": n}


def _save(model, tok, path: Path) -> None:
    model.to(torch.bfloat16).save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    model.float()


def _plans(recipe: Recipe) -> list[tuple[str, object, SFTSettings]]:
    return [
        ("junior", JUNIOR_SHAPE, SFTSettings(steps=recipe.junior_max_steps, plain_share=1.0, seed=0,
                                             eval_every=recipe.junior_eval_every, stop_at=recipe.junior_stop_at)),
        ("senior", SENIOR_SHAPE, SFTSettings(steps=recipe.senior_steps, plain_share=recipe.senior_plain_share,
                                             terse_share=recipe.senior_terse_share, seed=1,
                                             eval_every=recipe.senior_eval_every)),
    ]


def _train_one(job) -> dict:
    """Train, round, save and measure one model (runs in its own process when jobs > 1)."""
    name, shape, settings, out, recipe, progress, position = job
    torch.set_num_threads(recipe.threads)
    tok = build_tokenizer()
    t0 = time.time()
    model = new_model(tok, shape, seed=settings.seed).to(recipe.device)
    model = sft(model, tok, settings, progress=progress, position=position, desc=name)
    seconds = time.time() - t0
    _round_bf16(model)
    model.cpu()
    _save(model, tok, Path(out) / name)
    figures = _measure(model, tok, recipe.probe_n, recipe.budget_tokens)
    losses = [r for r in settings.log if len(r) == 2]
    curve = [[r[0] + 1, r[2]] for r in settings.log if len(r) == 3]
    return {"shape": asdict(shape), "sft_seconds": round(seconds, 1), "sft_steps": losses[-1][0] + 1,
            "final_loss": round(losses[-1][1], 4), "plain_share": settings.plain_share,
            "terse_share": settings.terse_share, "acc_curve_t1": curve,
            **figures}


def build(out_dir, recipe: Recipe | None = None, progress: bool = True, command: str | None = None) -> dict:
    """Build everything into ``out_dir``; returns (and writes) the world card with measured figures.

    With ``recipe.jobs == 2`` the two models train at the same time in two processes (one per CPU core).
    """
    import multiprocessing as mp

    recipe = recipe or Recipe()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(recipe.threads)
    tok = build_tokenizer()
    card = {"world_version": WORLD_VERSION, "recipe": asdict(recipe), "vocab_size": len(tok),
            "built_on": machine_facts(), "command": command}
    write_problems(out / "problems" / "train.jsonl", recipe.n_train_problems, seed=0, split="train")
    write_problems(out / "problems" / "test.jsonl", recipe.n_test_problems, seed=0, split="test")

    plans = [plan for plan in _plans(recipe) if recipe.only in (None, plan[0])]
    jobs = [(name, shape, settings, str(out), recipe, progress, i) for i, (name, shape, settings) in enumerate(plans)]
    t0 = time.time()
    if recipe.jobs > 1:
        with mp.get_context("spawn").Pool(min(recipe.jobs, len(jobs))) as pool:
            results = pool.map(_train_one, jobs)
    else:
        results = [_train_one(job) for job in jobs]
    card["build_seconds"] = round(time.time() - t0, 1)
    for (name, *_), figures in zip(jobs, results):
        card[name] = figures
        if progress:
            print(f"[world] {name}: {figures['params']:,} params, {figures['sft_seconds']:.0f} s, "
                  f"T=1 acc {figures['acc_t1']:.3f}, greedy {figures['acc_greedy']:.3f}, "
                  f"jargon {figures['jargon_rate_t1']:.2f}", flush=True)
    (out / "world_card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card
