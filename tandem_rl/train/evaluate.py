"""Validation during training: the periodic evaluation hook, and what it measures for picking a checkpoint.

Every ``train.eval_every`` steps the senior answers the validation problems: ``train.eval_benchmarks`` (data
sources, each one benchmark of a macro average) or, when that is empty, the held-out problems of ``data.holdout``
(one benchmark, ``holdout``), at most ``train.eval_problems`` per benchmark. Each problem gets ``train.eval_samples``
samples under ``train.eval_schedule`` (``solo``, or a handoff schedule with the junior), greedy by default
(``train.eval_greedy``), else at ``train.eval_temperature/top_p/top_k`` (null = the eval section's), with the
rollout's response budget. Logged (``metrics.jsonl`` and ``validation.jsonl``)::

    eval_solo_acc            mean reward over every sample (solo schedule only; the hook's original metric)
    eval_pass@k              unbiased pass@k, averaged per benchmark, then macro over benchmarks, k = 1..n
    eval_pass@k/<benchmark>  the same for one benchmark

Worked example: two benchmarks, n = 2 samples; ``a`` has problems with rewards [1, 0] and [0, 0], ``b`` one problem
with [1, 1]::

    >>> from tandem_rl.train.evaluate import summarize
    >>> m = summarize(["a", "b"], [[[1, 0], [0, 0]], [[1, 1]]], solo=True)
    >>> m["eval_pass@1/a"], m["eval_pass@2/a"], m["eval_pass@1"], m["eval_pass@2"], m["eval_solo_acc"]
    (0.25, 0.5, 0.625, 0.75, 0.5)

The authors' protocol (issue 16; configs/paper-qwen3-4b-deepscaler.yaml): AMC, AIME, Minerva, n = 4, T 0.6, top_p
0.95, solo, every 20 steps (tandem) or 40 (GRPO), best checkpoint by the macro pass@4 (``train.best_metric``;
``checkpoint.save_best``). Data parallel: every rank answers its share of each benchmark's problems; the per-benchmark
sums are added over ranks (``all_sum``) before anything is divided.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tandem_rl.cogen import schedules
from tandem_rl.eval.passk import pass_at_k_table
from tandem_rl.train.data_order import step_seed

HISTORY = "validation.jsonl"


@dataclass
class ValidationSet:
    """One validation benchmark: its ``name``, problems and their encoded prompts (index for index)."""

    name: str
    problems: list
    prompt_ids: list


def eval_rollout_config(cfg):
    """Decoding settings for validation: ``train.eval_schedule``, greedy or the validation sampling settings."""
    t, e = cfg.train, cfg.eval
    sched = schedules.get(t.eval_schedule)
    turns = {"max_turns": 2 * e.max_rounds} if sched.turn_limit else {}  # a round = a senior + a junior turn
    common = dict(schedule=t.eval_schedule, p_end=None, junior_temperature=None, junior_top_p=None,
                  junior_top_k=None, **turns)
    if t.eval_greedy:
        return dataclasses.replace(cfg.rollout, temperature=0.0, top_p=1.0, top_k=0, **common)
    pick = lambda mine, default: default if mine is None else mine  # noqa: E731
    return dataclasses.replace(cfg.rollout, temperature=pick(t.eval_temperature, e.temperature),
                               top_p=pick(t.eval_top_p, e.top_p), top_k=pick(t.eval_top_k, e.top_k), **common)


def validation_sets(cfg, tokenizer, held_problems: list, held_ids: list) -> list[ValidationSet]:
    """The validation benchmarks, each cut to ``train.eval_problems``; prompts longer than
    ``data.max_prompt_tokens`` are dropped. The held-out problems are given by the caller (it split them off)."""
    from tandem_rl.data import encode_problems, load_problems
    from tandem_rl.eval.runner import benchmark_name

    n = cfg.train.eval_problems
    if not cfg.train.eval_benchmarks:
        return [ValidationSet("holdout", list(held_problems[:n]), list(held_ids[:n]))]
    out: list[ValidationSet] = []
    for source in cfg.train.eval_benchmarks:
        name = benchmark_name(source)
        if any(v.name == name for v in out):
            raise ValueError(f"train.eval_benchmarks: two sources share the name {name!r}")
        ps = load_problems(dataclasses.replace(cfg.data, source=source, holdout=0, limit=None))
        enc = encode_problems(tokenizer, ps.problems, cfg.data)
        if not enc.problems:
            raise ValueError(f"train.eval_benchmarks {source!r}: every prompt is longer than data.max_prompt_tokens")
        out.append(ValidationSet(name, enc.problems[:n], enc.prompt_ids[:n]))
    return out


def summarize(names: Sequence[str], rewards: Sequence, *, solo: bool) -> dict[str, float]:
    """Metrics from per-benchmark ``[problems, samples]`` rewards (see the module's worked example)."""
    arrays = [np.asarray(r, dtype=float) for r in rewards]
    n = next((a.shape[-1] for a in arrays if a.size), 1)
    sums = np.concatenate([_sums(a.reshape(-1, n)) for a in arrays])
    return metrics_from_sums(names, sums.tolist(), n=n, solo=solo)


def _sums(rewards: np.ndarray) -> np.ndarray:
    """``[problems, n]`` rewards -> [problems, reward sum, samples, sum of pass@1..n over problems]."""
    n = rewards.shape[1]
    passk = pass_at_k_table(rewards >= 0.5).sum(0) if len(rewards) else np.zeros(n)
    return np.concatenate([[len(rewards), rewards.sum(), rewards.size], passk])


def metrics_from_sums(names: Sequence[str], sums: Sequence[float], *, n: int, solo: bool) -> dict[str, float]:
    """Divide the (rank-summed) per-benchmark sums: per-benchmark pass@k, the macro over benchmarks that have
    problems, and (solo) the pooled mean reward. nan where there is nothing to divide by."""
    width = 3 + n
    per = np.asarray(sums, dtype=float).reshape(len(names), width)
    out: dict[str, float] = {}
    macro = np.full(n, np.nan)
    have = per[:, 0] > 0
    for name, row in zip(names, per):
        for k in range(1, n + 1):
            out[f"eval_pass@{k}/{name}"] = float(row[2 + k] / row[0]) if row[0] else float("nan")
    if have.any():
        macro = (per[have, 3:] / per[have, 0:1]).mean(0)
    for k in range(1, n + 1):
        out[f"eval_pass@{k}"] = float(macro[k - 1])
    if solo:
        samples = per[:, 2].sum()
        out["eval_solo_acc"] = float(per[:, 1].sum() / samples) if samples else float("nan")
    return out


def validate(generator, grader, sets: Sequence[ValidationSet], cfg, *, step: int, autocast, rank: int = 0,
             world: int = 1, all_sum: Callable[[list], list] = lambda v: v) -> dict[str, float]:
    """Generate, grade and summarize this rank's share of every validation set (``step`` = steps done - 1)."""
    rc = eval_rollout_config(cfg)
    n = cfg.train.eval_samples
    owner, prompts, golds = [], [], []
    for s, vs in enumerate(sets):
        for p, ids in list(zip(vs.problems, vs.prompt_ids))[rank::world]:
            owner += [s] * n
            prompts += [ids] * n
            golds += [p.answer] * n
    rewards = np.zeros(len(prompts))
    if prompts:
        size = cfg.train.generation_batch_size or len(prompts)
        tok, texts = generator.tokenizer, []
        for c, start in enumerate(range(0, len(prompts), size)):
            with autocast():
                out = generator.generate(prompts[start:start + size], rc,
                                         seed=step_seed(cfg.train.seed, step, 2_000_000 + c))
            texts += [tok.decode(ids, skip_special_tokens=True) for ids in out.response_ids]
        results = grader.grade(texts, golds, answer_format=cfg.reward.answer_format)
        rewards = np.array([r.reward for r in results], dtype=float)
    owner_arr = np.asarray(owner, dtype=int)
    local = np.concatenate([_sums(rewards[owner_arr == s].reshape(-1, n)) for s in range(len(sets))] or [[]])
    return metrics_from_sums([v.name for v in sets], all_sum(local.tolist()), n=n,
                             solo=cfg.train.eval_schedule == "solo")


def append_history(run_dir, step: int, metrics: dict, *, best: bool) -> None:
    """One line of ``validation.jsonl``: the step, its validation metrics, and whether it became the kept best."""
    row = {"step": step, "best": best,
           **{k: (v if np.isfinite(v) else None) for k, v in metrics.items() if k.startswith("eval_")}}
    with open(Path(run_dir) / HISTORY, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
