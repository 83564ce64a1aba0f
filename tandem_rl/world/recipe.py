"""The deterministic recipe behind the shipped world: tokenizer, junior, senior, problem files, and a world card.

    build("/tmp/world")   # ~5-8 min on one CPU core; writes junior/ senior/ problems/ world_card.json

- junior (~0.5M params): plain solutions only, trained until its T=1 accuracy first reaches ``junior_stop_at``
  (checked every ``junior_eval_every`` steps on a fixed probe set): a useful but weaker partner (a junior trained to
  convergence beats the senior; docs/world.md).
- senior (~1.9M params): both notations, jargon dominant (plain share 0.35), a fixed number of steps.
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


@dataclass
class Recipe:
    junior_max_steps: int = 1500
    junior_eval_every: int = 100
    junior_stop_at: float = 0.55
    senior_steps: int = 800
    senior_eval_every: int = 100  # for the card's learning curve only (the senior never stops early)
    senior_plain_share: float = 0.35
    n_train_problems: int = 4000
    n_test_problems: int = 500
    probe_n: int = 400
    threads: int = 1  # torch threads per process
    jobs: int = 2  # models trained at once
    device: str = "cpu"  # results are deterministic per device type, not across CPU and CUDA


def _round_bf16(model):
    """Round weights through bfloat16 (what gets stored) so that measurements match the shipped files."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    return model


def _measure(model, tok, n: int) -> dict:
    t1, g = probe(model, tok, n=n, temperature=1.0, seed=7), probe(model, tok, n=n, temperature=0.0)
    return {"params": n_params(model), "acc_t1": t1.accuracy, "acc_greedy": g.accuracy,
            "jargon_rate_t1": t1.jargon_rate, "jargon_rate_greedy": g.jargon_rate,
            "acc_t1_plain": t1.accuracy_plain, "acc_t1_jargon": t1.accuracy_jargon,
            "sample_t1": t1.texts[0], "probe_n": n}


def _save(model, tok, path: Path) -> None:
    model.to(torch.bfloat16).save_pretrained(path, safe_serialization=True)
    tok.save_pretrained(path)
    model.float()


def _plans(recipe: Recipe) -> list[tuple[str, object, SFTSettings]]:
    return [
        ("junior", JUNIOR_SHAPE, SFTSettings(steps=recipe.junior_max_steps, plain_share=1.0, seed=0,
                                             eval_every=recipe.junior_eval_every, stop_at=recipe.junior_stop_at)),
        ("senior", SENIOR_SHAPE, SFTSettings(steps=recipe.senior_steps, plain_share=recipe.senior_plain_share,
                                             seed=1, eval_every=recipe.senior_eval_every)),
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
    figures = _measure(model, tok, recipe.probe_n)
    losses = [r for r in settings.log if len(r) == 2]
    curve = [[r[0] + 1, r[2]] for r in settings.log if len(r) == 3]
    return {"shape": asdict(shape), "sft_seconds": round(seconds, 1), "sft_steps": losses[-1][0] + 1,
            "final_loss": round(losses[-1][1], 4), "plain_share": settings.plain_share, "acc_curve_t1": curve,
            **figures}


def build(out_dir, recipe: Recipe | None = None, progress: bool = True) -> dict:
    """Build everything into ``out_dir``; returns (and writes) the world card with measured figures.

    With ``recipe.jobs == 2`` the two models train at the same time in two processes (one per CPU core).
    """
    import multiprocessing as mp

    recipe = recipe or Recipe()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(recipe.threads)
    tok = build_tokenizer()
    card = {"recipe": asdict(recipe), "vocab_size": len(tok), "torch": torch.__version__}
    write_problems(out / "problems" / "train.jsonl", recipe.n_train_problems, seed=0, split="train")
    write_problems(out / "problems" / "test.jsonl", recipe.n_test_problems, seed=0, split="test")

    jobs = [(name, shape, settings, str(out), recipe, progress, i)
            for i, (name, shape, settings) in enumerate(_plans(recipe))]
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
