"""How well a model computes one step in each notation: by teacher forcing, and on its own samples (calibration).

Teacher forcing: for every test problem and every step, the correct solution in one notation is fed up to the step's
result, and we read the model's probability of the correct result token. No budget, no partner: the arithmetic
alone, per notation, so that "the senior got worse at arithmetic" and "the senior moved to a notation it computes
worse in" can be told apart (docs/sweep.md "Why a weaker junior costs accuracy")::

    tandem-rl world arithmetic world:senior runs/demo/runs/grpo_s0 runs/demo/runs/tandem_weak_s0
    rows = step_arithmetic({"initial": model}, tokenizer, problems, prompt_ids)
    rows[("initial", "plain")]["error_eval"]   # chance of sampling a wrong result at the evaluation's decoding

Per (model, notation): ``n`` steps, ``p_correct`` (mean probability of the correct result at T 1), ``error_t1`` /
``error_t07`` (the chance that sampling at temperature 1 / 0.7 with no truncation writes a wrong result),
``error_eval`` (the same at the evaluation's decoding, ``DECODING``: T 0.7 then top_k 20 and top_p 0.8, renormalised
exactly as ``cogen/sampling.py`` samples; 1 when the right token falls outside the kept set), ``argmax_error``
(share of steps whose most likely result is wrong); ``*_ci``: 95% bootstrap intervals over problems. Terse steps
hold no operation to check against and are left out.

Calibration (issue 31): teacher forcing reads canonical contexts, so it need not predict what a model writes. Each
model also writes ``samples`` solo solutions per problem at the evaluation's decoding and budget, and the step
checker (``steps.py``) counts the false results among the equations it wrote (``own_steps``, ``own_error``,
``own_error_ci`` per notation; steps written after an earlier slip count too, as in the evaluation's figures). Row
``(label, "solo samples")`` holds those samples' accuracy per number of operations, the figure a per-step error
rate should predict (``(1 - e) ** n_ops`` for a chain of ``n_ops`` steps). Worked example, by hand: a model whose
own plain steps are false 5% of the time should solve ~0.95 ** 3 = 0.86 of 3-operation problems in plain.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import torch

from tandem_rl.cogen.char_authorship import response_texts
from tandem_rl.cogen.pairing import co_generator
from tandem_rl.cogen.sampling import truncate
from tandem_rl.eval.runner import Row, generate_rows
from tandem_rl.world.problems import problem_from_key, solution
from tandem_rl.world.steps import check_steps

NOTATIONS = ("plain", "jargon")
DECODING = {"temperature": 0.7, "top_k": 20, "top_p": 0.8}  # the demo's evaluation (configs/demo.yaml, eval.*)
SAMPLES_PART = "solo samples"


def problem_of(row: dict):
    """A world problem file row -> its ``WorldProblem`` (the arithmetic is in ``key``, e.g. ``'20-2-1'``)."""
    return problem_from_key(row["key"])


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


def right_probs(z: torch.Tensor, right: int, decoding: dict = DECODING) -> tuple[float, float, float, bool]:
    """The probability of token ``right`` under logits ``z`` [V] at T 1, at T 0.7 and at ``decoding``; argmax ok.

    >>> p1, p07, pe, ok = right_probs(torch.tensor([2.0, 1.0, 0.0]), 1, {"temperature": 1.0, "top_k": 0, "top_p": 0.6})
    >>> round(p1, 3), pe, ok     # top_p 0.6 keeps token 0 alone (0.665 >= 0.6): token 1 is never sampled
    (0.245, 0.0, False)
    """
    z = z.float()
    kept = truncate((z / decoding["temperature"]).unsqueeze(0), decoding["top_k"], decoding["top_p"])[0]
    return (torch.softmax(z, -1)[right].item(), torch.softmax(z / 0.7, -1)[right].item(),
            torch.softmax(kept, -1)[right].item(), int(z.argmax()) == right)


def _forced_steps(tokenizer, problems, prompt_ids, notations) -> list[tuple]:
    """(notation, ids, result index in ids, correct token id, problem index) for every step of every problem."""
    seqs = []
    for k, (p, prompt) in enumerate(zip(problems, prompt_ids)):
        for notation in notations:
            ids, pos = _result_positions(tokenizer, solution(p, notation))
            full = list(prompt) + ids
            seqs += [(notation, full, len(prompt) + i, full[len(prompt) + i], k) for i in pos]
    return seqs


@torch.no_grad()
def step_arithmetic(models: dict, tokenizer, problems: Sequence, prompt_ids: Sequence[list[int]],
                    notations: Sequence[str] = NOTATIONS, batch_size: int = 64, decoding: dict = DECODING) -> dict:
    """``{(label, notation): {n, p_correct, error_t1, error_t07, error_eval, argmax_error, ..._ci}}`` over every
    step of every problem, by teacher forcing.

    ``problems``: ``WorldProblem`` s; ``prompt_ids``: their encoded prompts (as the evaluation builds them)."""
    seqs = _forced_steps(tokenizer, problems, prompt_ids, notations)
    out = {}
    for label, model in models.items():
        acc = {n: [] for n in notations}  # per step: (p at T=1, p at T=0.7, p at the eval decoding, argmax ok, k)
        for b in range(0, len(seqs), batch_size):
            chunk = seqs[b:b + batch_size]
            width = max(len(s[1]) for s in chunk)
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, (_, full, _, _, _) in enumerate(chunk):
                ids[i, :len(full)] = torch.tensor(full)
                mask[i, :len(full)] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits
            for i, (notation, _, at, right, k) in enumerate(chunk):
                acc[notation].append((*right_probs(logits[i, at - 1], right, decoding), k))  # at-1 predicts it
        for notation, rows in acc.items():
            if rows:
                p1, p07, pe = (np.array([r[j] for r in rows]) for j in range(3))
                problem = [r[4] for r in rows]
                out[(label, notation)] = {"n": len(rows), "p_correct": float(p1.mean()),
                                          "error_t1": float(1 - p1.mean()), "error_t07": float(1 - p07.mean()),
                                          "error_t07_ci": _interval(1 - p07, problem),
                                          "error_eval": float(1 - pe.mean()), "error_eval_ci": _interval(1 - pe, problem),
                                          "argmax_error": sum(not r[3] for r in rows) / len(rows)}
    return out


def own_samples(model, tokenizer, problems: Sequence, prompt_ids: Sequence[list[int]], rollout, *,
                samples: int = 4, seed: int = 0, batch_size: int = 200, notations: Sequence[str] = NOTATIONS) -> dict:
    """The model's own solo solutions at ``rollout`` (a ``RolloutConfig``: the evaluation's decoding and budget),
    checked step by step: ``{notation: {own_steps, own_error, own_error_ci}, SAMPLES_PART: {n, acc, acc_by_ops}}``.

    A step's notation is its own (a mixed text contributes to both); accuracy = the boxed answer equals the
    problem's, as the ``boxed`` grader decides for the world's integer answers."""
    rows = [Row("world", str(k), j, list(ids), str(p.answer)) for k, (p, ids) in enumerate(zip(problems, prompt_ids))
            for j in range(samples)]
    gen = co_generator(model, None, tokenizer)  # solo: no partner is run
    ro = generate_rows(gen, rows, rollout, batch_size=batch_size, seed=seed, desc="own samples", progress=False)
    steps = {n: [] for n in notations}  # per written equation: (false, problem index)
    by_ops: dict[int, list[bool]] = {}
    for row, (text, _) in zip(rows, response_texts(tokenizer, ro)):
        k = int(row.problem_id)
        check = check_steps(text)
        for st in check.steps:
            if st.notation in steps:
                steps[st.notation].append((not st.true, k))
        ok = check.answer is not None and check.answer.strip() == row.gold
        by_ops.setdefault(len(problems[k].ops), []).append(ok)
    out = {}
    for notation, found in steps.items():
        vals = np.array([f for f, _ in found], dtype=np.float64)
        out[notation] = {"own_steps": len(found), "own_error": float(vals.mean()) if len(found) else float("nan"),
                         "own_error_ci": _interval(vals, [k for _, k in found]) if len(found) else [float("nan")] * 2}
    flat = [ok for oks in by_ops.values() for ok in oks]
    out[SAMPLES_PART] = {"n": len(flat), "acc": sum(flat) / len(flat),
                         "acc_by_ops": {n: sum(v) / len(v) for n, v in sorted(by_ops.items())}}
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


def _ci(r: dict, key: str) -> str:
    lo, hi = r[key]
    return f"{r[key[:-3]]:>7.3f} [{lo:.3f}, {hi:.3f}]"


def format_arithmetic(rows: dict) -> str:
    """The probe's table: teacher forcing (TF) at T 1, T 0.7 and the evaluation's decoding next to the false-result
    rate of the model's own samples at that decoding; then each model's own accuracy per number of operations."""
    head = (f"{'model':<24}{'notation':>9}{'TF steps':>9}{'TF err T=1':>11}{'TF err T=0.7 [95%]':>23}"
            f"{'TF err eval [95%]':>23}{'own steps':>10}{'own err [95%]':>23}")
    lines = [head, "-" * len(head)]
    for (label, part), r in rows.items():
        if part == SAMPLES_PART:
            continue
        own = (f"{r['own_steps']:>10}" + (_ci(r, "own_error_ci").rjust(23) if r["own_steps"] else f"{'-':>23}")
               if "own_steps" in r else "")
        lines.append(f"{label:<24}{part:>9}{r['n']:>9}{r['error_t1']:>11.3f}{_ci(r, 'error_t07_ci'):>23}"
                     f"{_ci(r, 'error_eval_ci'):>23}{own}")
    acc = [(label, r) for (label, part), r in rows.items() if part == SAMPLES_PART]
    if acc:
        lines += ["", "own solo samples at the evaluation's decoding: accuracy per number of operations"]
        for label, r in acc:
            lines.append(f"{label:<24} n {r['n']:>5}  all {r['acc']:.3f}  "
                         + "  ".join(f"{k} ops {v:.3f}" for k, v in r["acc_by_ops"].items()))
    return "\n".join(lines)


def measure(seniors: dict[str, str], *, limit: int | None = 200, split: str = "test", notations=NOTATIONS,
            samples: int = 4) -> dict:
    """Load each senior (label -> checkpoint or run folder; ``RUN@best`` too) and probe it on the first ``limit``
    problems of the world's ``split`` file, prompts built as the demo builds them: teacher forcing at the demo's
    evaluation decoding (``eval.temperature`` / ``top_k`` / ``top_p``) and ``samples`` own solo solutions per
    problem at that decoding and budget (0 = teacher forcing only)."""
    import json

    from tandem_rl.data import encode_problems, load_problems
    from tandem_rl.eval.runner import eval_rollout, resolve_checkpoint
    from tandem_rl.models import load_model, load_tokenizer
    from tandem_rl.world.assets import problems_file
    from tandem_rl.world.demo import demo_config

    cfg = demo_config([f"data.source={problems_file(split)}"])
    decoding = {"temperature": cfg.eval.temperature, "top_k": cfg.eval.top_k, "top_p": cfg.eval.top_p}
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
        model = load_model(path, device="cpu")
        out.update(step_arithmetic({label: model}, tok, world, enc.prompt_ids, notations, decoding=decoding))
        if samples:
            own = own_samples(model, tok, world, enc.prompt_ids, eval_rollout(cfg, "solo"), samples=samples,
                              seed=cfg.eval.seed, batch_size=cfg.eval.batch_size, notations=notations)
            for notation in notations:
                out[(label, notation)].update(own[notation])
            out[(label, SAMPLES_PART)] = own[SAMPLES_PART]
    return out
