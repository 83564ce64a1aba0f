"""Transfer curves: how well the junior finishes a problem from growing prefixes of the senior's reasoning.

Legibility as *transfer* (Roytburg, Sridhar, Ippolito 2026, arXiv 2603.20508, "transfer utility"): hand the junior
the first fraction ``f`` of a senior solo solution and let it write the rest alone (the engine's ``junior``
schedule from prompt + prefix). Accuracy against ``f`` is the curve; ``f = 0`` is the junior alone, ``f = 1`` is
the junior given the senior's whole reasoning but not its answer.

Definitions (one senior solo response ``y``, tokens ``y_1..y_T``):

- **answer cut**: trailing special tokens (the final EOS) are dropped; the *reasoning* is the longest token
  prefix whose decoded text ends at or before the first character of the response's last ``\\boxed`` /
  ``\\fbox`` command (the grader's own pattern, ``rewards/extract.py``). A response without a box keeps all its
  tokens. So even at ``f = 1`` the junior must write the answer itself. ``R`` = reasoning tokens.
- **by tokens**: the prefix at ``f`` is the first ``floor(f R + 1/2)`` tokens.
- **by steps**: a step ends at a token that ends a blank line (the ``paragraph`` schedule's rule: its text ends
  with ``"\\n\\n"``, or it is ``"\\n"`` after a token ending in ``"\\n"``). The cut points are the ends of the steps
  inside the reasoning plus ``R`` itself (a trailing step without a blank line counts; a reasoning without any
  blank line is one step). With ``S`` cut points the prefix at ``f`` is the first ``j = floor(f S + 1/2)`` steps:
  ``cuts[j - 1]`` tokens (0 when ``j = 0``).
- the junior continues with up to ``eval.max_new_tokens`` new tokens; **only its continuation is graded** (the
  prefix holds no final answer by construction; an earlier box in the senior's reasoning never counts).
- one continuation per distinct prefix of a sample: fractions (and units) that give the same prefix length share
  one draw.

Worked example (the embedded world; the token list of one solo solution, EOS last)::

    tokens: " 20" " minus" " 2" " is" " 18" " ." "\\n\\n" " 18" " minus" " 1" " is" " 17" " ." "\\n\\n" " \\"
            "boxed" "{" "17" "}" EOS
    reasoning R = 14 tokens (up to the second "\\n\\n"); step cut points [7, 14], S = 2
    f:            0     0.25   0.5    0.75   1
    by tokens:    0     4      7      11     14      (floor(14 f + 1/2))
    by steps:     0     7      7      14     14      (j = floor(2 f + 1/2) = 0, 1, 1, 2, 2)

Per problem the curve is the mean correctness over its samples at each ``f``; a benchmark's curve is the mean over
problems, the macro curve the mean over benchmarks (the usual ``Metric``, ``bootstrap.py``). The **area under the
curve** is the trapezoid rule over the grid (the grid spans [0, 1], so the area is a mean accuracy in [0, 1]);
because it is linear in the per-problem curves it is itself a per-problem metric, and paired differences and seed
groups come from the same bootstrap as every other metric.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from tandem_rl.cogen.rollouts import Rollouts
from tandem_rl.eval.bootstrap import Metric
from tandem_rl.eval.records import SampleRecord, TransferRecord
from tandem_rl.eval.summary import CORRECT, summarize_label
from tandem_rl.rewards.extract import _BOX  # the grader's box pattern: the cut and the grading agree

UNITS = ("tokens", "steps")
_DECODE = dict(skip_special_tokens=True, clean_up_tokenization_spaces=False)


def check_fractions(fractions: Sequence[float]) -> list[float]:
    """The grid as floats; it must be strictly increasing, inside [0, 1], and include 0 and 1."""
    fr = [float(f) for f in fractions]
    if len(fr) < 2 or fr[0] != 0.0 or fr[-1] != 1.0 or any(b <= a for a, b in zip(fr, fr[1:])):
        raise ValueError(f"eval.transfer_fractions {list(fractions)} must increase strictly from 0 to 1 "
                         "(both included), e.g. [0, 0.25, 0.5, 0.75, 1]")
    return fr


def reasoning_length(tokenizer, ids: Sequence[int]) -> int:
    """Tokens of ``ids`` before the final answer (see the module docstring: the answer cut).

    Binary search on decoded prefix lengths (monotone in the number of tokens): ~log2(T) decodes per response."""
    special = set(tokenizer.all_special_ids)
    ids = list(ids)
    while ids and ids[-1] in special:
        ids.pop()
    text = tokenizer.decode(ids, **_DECODE)
    boxes = list(_BOX.finditer(text))
    if not boxes:
        return len(ids)
    cut = boxes[-1].start()
    lo, hi = 0, len(ids)  # invariant: decode(ids[:lo]) ends at or before the cut, decode(ids[:hi + 1]) does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(tokenizer.decode(ids[:mid], **_DECODE)) <= cut:
            lo = mid
        else:
            hi = mid - 1
    return lo


def step_cuts(ids: Sequence[int], reasoning: int, ends_blank_line, ends_newline, is_newline) -> list[int]:
    """Token counts at which the steps of the first ``reasoning`` tokens end; the last is always ``reasoning``.

    The three tables are per-vocabulary booleans (``cogen/vocab.py``'s ``TokenTables``, as numpy or lists).

    >>> step_cuts([5, 9, 5, 9, 7], 5, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0] * 10, [0] * 10)
    [2, 4, 5]
    """
    cuts = []
    for t in range(reasoning):
        tok = ids[t]
        if ends_blank_line[tok] or (t > 0 and is_newline[tok] and ends_newline[ids[t - 1]]):
            cuts.append(t + 1)
    if reasoning > 0 and (not cuts or cuts[-1] != reasoning):
        cuts.append(reasoning)
    return cuts


def prefix_length(unit: str, f: float, reasoning: int, cuts: Sequence[int]) -> int:
    """Tokens of the prefix at fraction ``f`` (``unit`` "tokens" or "steps")."""
    if unit == "tokens":
        return int(math.floor(f * reasoning + 0.5))
    if unit == "steps":
        j = int(math.floor(f * len(cuts) + 0.5))
        return cuts[j - 1] if j else 0
    raise ValueError(f"eval.transfer_units: unknown unit {unit!r}; choose from {UNITS}")


@dataclasses.dataclass
class Plan:
    """Which continuations to generate: ``requests`` = distinct (solo sample index, prefix length)."""

    requests: list[tuple[int, int]]
    # per (solo sample index, unit, fraction): (prefix length, reasoning tokens, step count)
    cells: dict[tuple[int, str, float], tuple[int, int, int]]


def plan(tokenizer, tables, solo_ids: Sequence[Sequence[int]], *, fractions: Sequence[float],
         units: Sequence[str]) -> Plan:
    """Every prefix length each solo response needs, deduplicated per response."""
    ebl, enl, isn = (np.asarray(getattr(tables, n)).tolist() for n in ("ends_blank_line", "ends_newline",
                                                                        "is_newline"))
    requests: dict[tuple[int, int], None] = {}
    cells = {}
    for i, ids in enumerate(solo_ids):
        r = reasoning_length(tokenizer, ids)
        cuts = step_cuts(ids, r, ebl, enl, isn)
        for unit in units:
            for f in fractions:
                n = prefix_length(unit, f, r, cuts)
                cells[(i, unit, f)] = (n, r, len(cuts))
                requests[(i, n)] = None
    return Plan(list(requests), cells)


def run_transfer(gen, pool, tokenizer, prompts: list[list[int]], solo: Sequence[SampleRecord], rollout, *,
                 fractions: Sequence[float], units: Sequence[str], batch_size: int, seed: int, answer_format: str,
                 label: str, generate_rows, progress: bool = False) -> tuple[list[TransferRecord], object]:
    """Continuations by the junior for every (solo record, unit, fraction); returns the records and the engine's
    ``Rollouts`` of the continuations (for the cost statistics).

    ``gen`` is the evaluation's ``CoGenerator`` (its junior writes every continuation), ``pool`` the grader;
    ``prompts[i]`` is the prompt of ``solo[i]``; ``rollout`` is the evaluation's ``RolloutConfig`` with
    ``schedule="junior"``; ``generate_rows`` is ``runner.generate_rows`` (engine batches of ``batch_size`` rows,
    batch ``i`` seeded ``seed + i``), passed in because the runner imports this module."""
    fractions = check_fractions(fractions)
    p = plan(tokenizer, gen.tables(rollout.word_start), [r.response_ids for r in solo], fractions=fractions,
             units=units)
    if not p.requests:  # e.g. eval.transfer_limit = 0
        return [], Rollouts([], [], [], [], [], [], {})
    rows = [_Prompt(prompts[i] + list(solo[i].response_ids[:n])) for i, n in p.requests]
    ro = generate_rows(gen, rows, rollout, batch_size=batch_size, seed=seed, desc=f"{label} transfer",
                       progress=progress)
    texts = [tokenizer.decode(ids, **_DECODE) for ids in ro.response_ids]
    results = pool.grade(texts, [solo[i].gold for i, _ in p.requests], answer_format=answer_format)
    at = {req: k for k, req in enumerate(p.requests)}
    out = []
    for (i, unit, f), (n, r, s) in p.cells.items():
        k, rec = at[(i, n)], solo[i]
        out.append(TransferRecord(
            label=label, benchmark=rec.benchmark, problem_id=rec.problem_id, sample=rec.sample, unit=unit,
            fraction=f, prefix_tokens=n, reasoning_tokens=r, steps=s,
            response_ids=[int(x) for x in ro.response_ids[k]], text=texts[k], reward=float(results[k].reward),
            extracted=results[k].extracted, finish_reason=ro.finish_reason[k]))
    return out, ro


@dataclasses.dataclass
class _Prompt:
    """The one field of a runner ``Row`` that ``generate_rows`` reads."""

    prompt_ids: list[int]


def auc(curve: np.ndarray, fractions: Sequence[float]) -> np.ndarray:
    """Trapezoid area under ``curve`` (last axis over the grid).

    >>> float(auc(np.array([0.0, 0.5, 1.0]), [0, 0.5, 1]))   # (0 + 0.5)/2 * 0.5 + (0.5 + 1)/2 * 0.5
    0.5
    """
    c, x = np.asarray(curve, dtype=np.float64), np.asarray(fractions, dtype=np.float64)
    return ((c[..., 1:] + c[..., :-1]) / 2.0 * np.diff(x)).sum(axis=-1)


def transfer_metrics(records: Sequence[TransferRecord], correct: float = CORRECT) -> dict[str, Metric]:
    """``transfer_<unit>_accuracy`` (per problem: mean correctness over its samples at each fraction, ``[P, F]``)
    and ``transfer_<unit>_auc`` (per problem: the area under its curve) for every unit present."""
    out: dict[str, Metric] = {}
    for unit in dict.fromkeys(r.unit for r in records):
        rows = [r for r in records if r.unit == unit]
        fractions = sorted({r.fraction for r in rows})
        col = {f: j for j, f in enumerate(fractions)}
        acc: dict[str, dict[str, list]] = {}
        for r in rows:
            cell = acc.setdefault(r.benchmark, {}).setdefault(r.problem_id, [[] for _ in fractions])
            cell[col[r.fraction]].append(float(r.reward >= correct))
        curves, ids = {}, {}
        for b, probs in acc.items():
            for pid, cols in probs.items():
                if len({len(c) for c in cols}) != 1:
                    raise ValueError(f"transfer records of {b}/{pid} ({unit}) do not cover every fraction equally")
            curves[b] = np.array([[np.mean(c) for c in cols] for cols in probs.values()])
            ids[b] = list(probs)
        out[f"transfer_{unit}_accuracy"] = Metric.mean_of(curves, ids)
        out[f"transfer_{unit}_auc"] = Metric.mean_of({b: auc(v, fractions) for b, v in curves.items()}, ids)
    return out


def label_summary(records: Sequence[SampleRecord], transfer: Sequence[TransferRecord], *, label: str,
                  **opts) -> dict:
    """``summarize_label`` plus the transfer metrics and their grid (``transfer_fractions``, when there are any);
    the evaluator writes it and the report rebuilds it from ``samples.jsonl`` + ``transfer.jsonl`` alike."""
    summary = summarize_label(list(records), label=label, extra=transfer_metrics(transfer), **opts)
    if transfer:
        summary["transfer_fractions"] = sorted({r.fraction for r in transfer})
    return summary
