"""How well a model computes one step in each notation, given a correct solution so far (teacher forcing).

For every test problem and every step, the correct solution in one notation is fed up to the step's result, and we
read the model's probability of the correct result token. No sampling, no budget, no partner: the arithmetic alone,
per notation, so that "the senior got worse at arithmetic" and "the senior moved to a notation it computes worse
in" can be told apart (docs/sweep.md "Why a weaker junior costs accuracy")::

    tandem-rl world arithmetic world:senior runs/demo/runs/grpo_s0 runs/demo/runs/tandem_weak_s0
    rows = step_arithmetic({"initial": model}, tokenizer, problems, prompt_ids)
    rows[("initial", "plain")]["error_t1"]   # chance of sampling a wrong result at T = 1 (the training decoding)

Per (model, notation): ``n`` steps, ``p_correct`` (mean probability of the correct result), ``error_t1`` /
``error_t07`` (1 - that probability at temperature 1 / 0.7: the chance that plain sampling writes a wrong result;
the evaluation's top-p/top-k truncation lowers it further; ``error_t07_ci``: its 95% bootstrap interval over
problems), ``argmax_error`` (share of steps whose most likely result
is wrong). Terse steps hold no operation to check against and are left out.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import torch

from tandem_rl.world.problems import make_problem, solution
from tandem_rl.world.steps import check_steps

NOTATIONS = ("plain", "jargon")
_KEY = re.compile(r"([+-])(\d+)")


def problem_of(row: dict):
    """A world problem file row -> its ``WorldProblem`` (the arithmetic is in ``key``, e.g. ``'20-2-1'``)."""
    start = int(re.match(r"\d+", row["key"]).group(0))
    return make_problem(start, [(op, int(x)) for op, x in _KEY.findall(row["key"])])


def _result_positions(tokenizer, text: str) -> tuple[list[int], list[int]]:
    """Token ids of ``text`` and, per step, the index of the token that starts the step's result."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for step in check_steps(text).steps:
        first, last = step.result_span
        hit = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if s <= first < e]
        if not hit or enc["offset_mapping"][hit[0]][1] < last:  # the probe reads one token: it must hold the result
            raise ValueError(f"the result of {text[slice(*step.span)]!r} is not one token")
        out.append(hit[0])
    return list(enc["input_ids"]), out


@torch.no_grad()
def step_arithmetic(models: dict, tokenizer, problems: Sequence, prompt_ids: Sequence[list[int]],
                    notations: Sequence[str] = NOTATIONS, batch_size: int = 64) -> dict:
    """``{(label, notation): {n, p_correct, error_t1, error_t07, argmax_error}}`` over every step of every problem.

    ``problems``: ``WorldProblem`` s; ``prompt_ids``: their encoded prompts (as the evaluation builds them)."""
    seqs = []  # (notation, ids, result index in ids, correct token id, problem index)
    for k, (p, prompt) in enumerate(zip(problems, prompt_ids)):
        for notation in notations:
            ids, pos = _result_positions(tokenizer, solution(p, notation))
            full = list(prompt) + ids
            seqs += [(notation, full, len(prompt) + i, full[len(prompt) + i], k) for i in pos]
    out = {}
    for label, model in models.items():
        acc = {n: [] for n in notations}  # per step: (log p at T=1, log p at T=0.7, argmax right)
        for b in range(0, len(seqs), batch_size):
            chunk = seqs[b:b + batch_size]
            width = max(len(s[1]) for s in chunk)
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, (_, full, _, _, _) in enumerate(chunk):
                ids[i, :len(full)] = torch.tensor(full)
                mask[i, :len(full)] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            for i, (notation, _, at, right, k) in enumerate(chunk):
                z = logits[i, at - 1]  # the position that predicts the result token
                acc[notation].append((torch.log_softmax(z, -1)[right].item(),
                                      torch.log_softmax(z / 0.7, -1)[right].item(), int(z.argmax()) == right, k))
        for notation, rows in acc.items():
            if rows:
                p1 = torch.tensor([r[0] for r in rows]).exp()
                p07 = torch.tensor([r[1] for r in rows]).exp()
                out[(label, notation)] = {"n": len(rows), "p_correct": p1.mean().item(),
                                          "error_t1": 1 - p1.mean().item(), "error_t07": 1 - p07.mean().item(),
                                          "error_t07_ci": _interval(1 - p07.numpy(), [r[3] for r in rows]),
                                          "argmax_error": sum(not r[2] for r in rows) / len(rows)}
    return out


def _interval(values, problem: list[int], resamples: int = 1000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap of the mean over steps, resampling problems (a problem's steps move together)."""
    values, problem = np.asarray(values, dtype=np.float64), np.asarray(problem)
    ids = np.unique(problem)
    sums = np.array([values[problem == k].sum() for k in ids])
    counts = np.array([(problem == k).sum() for k in ids])
    pick = np.random.default_rng(seed).integers(0, len(ids), size=(resamples, len(ids)))
    means = sums[pick].sum(axis=1) / counts[pick].sum(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def format_arithmetic(rows: dict) -> str:
    head = (f"{'model':<28}{'notation':>9}{'steps':>7}{'p(right)':>10}{'err T=1':>9}{'err T=0.7 [95% CI]':>24}"
            f"{'argmax err':>12}")
    lines = [head, "-" * len(head)]
    for (label, notation), r in rows.items():
        lo, hi = r["error_t07_ci"]
        lines.append(f"{label:<28}{notation:>9}{r['n']:>7}{r['p_correct']:>10.3f}{r['error_t1']:>9.3f}"
                     f"{r['error_t07']:>10.3f} [{lo:.3f}, {hi:.3f}]{r['argmax_error']:>12.3f}")
    return "\n".join(lines)


def measure(seniors: dict[str, str], *, limit: int | None = 200, split: str = "test", notations=NOTATIONS) -> dict:
    """Load each senior (label -> checkpoint or run folder; ``RUN@best`` too) and probe it on the first ``limit``
    problems of the world's ``split`` file, prompts built as the demo builds them."""
    import json

    from tandem_rl.data import encode_problems, load_problems
    from tandem_rl.eval.runner import resolve_checkpoint
    from tandem_rl.models import load_model, load_tokenizer
    from tandem_rl.world.assets import problems_file
    from tandem_rl.world.demo import demo_config

    cfg = demo_config([f"data.source={problems_file(split)}"])
    ps = load_problems(cfg.data).problems
    rows = {json.loads(line)["id"]: json.loads(line) for line in open(problems_file(split))}
    order = {pid: i for i, pid in enumerate(rows)}
    ps = sorted(ps, key=lambda p: order[p.id.split(":", 1)[-1]])[:limit]  # file order, not the loader's shuffle
    out = {}
    for label, path in seniors.items():
        path = resolve_checkpoint(path)
        tok = load_tokenizer(path)
        enc = encode_problems(tok, ps, cfg.data)
        world = [problem_of(rows[p.id.split(":", 1)[-1]]) for p in enc.problems]
        out.update(step_arithmetic({label: load_model(path, device="cpu")}, tok, world, enc.prompt_ids, notations))
    return out
