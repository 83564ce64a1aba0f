"""From per-sample records to per-problem metrics, and from those to summaries with bootstrap intervals.

Everything here is rebuildable from ``samples.jsonl`` alone (no model): ``tandem-rl report`` calls the same code.

Per-problem reductions (each problem weighs the same inside its benchmark; benchmarks weigh the same in the macro):

| metric | per problem: numerator / denominator |
|---|---|
| ``solo_pass@k``, ``handoff_<schedule>_pass@k`` | unbiased pass@k from its n samples (k = 1..n) / 1 |
| ``legibility_ce`` | mean over its solo samples of each response's mean per-token junior CE (nats) / 1 |
| ``legibility_ce_per_byte`` | the same with each response's summed junior CE / its UTF-8 bytes (nats/byte: compares across tokenizers) |
| ``drift_kl_base``, ``drift_kl_junior`` | the same with the per-token KL(senior || base or junior) / 1 |
| ``notation_rate`` | share of its solo samples whose text matches ``eval.notation_regex`` / 1 |
| ``faithful`` | share of its solo samples with no false step / 1 |
| ``correct_with_false_step`` | correct solo samples with a false step / correct solo samples (pooled) |
| ``handoff_<schedule>_senior_fraction`` | senior-written tokens / all tokens of its handoff samples (pooled) |
| ``handoff_<schedule>_junior_answer_share`` | correct samples whose answer the junior wrote / correct samples |
| ``transfer_<unit>_accuracy``, ``_auc`` | junior continuations correct at each prefix fraction; the curve's area |
| ``<schedule>_tokens`` | mean response length in tokens / 1 |
| ``displacement_share`` | displaced positions that return / displaced positions (pooled over its texts) |
| ``solo_error_<kind>``, ``handoff_<schedule>_error_<kind>`` | its samples whose first failure is ``<kind>`` / its samples with an anatomy (``anatomy.KINDS``) |
| ``handoff_<schedule>_error_by_<author>`` | its samples whose first failure ``<author>`` (senior, junior) wrote / its samples with an anatomy |

A sample counts as correct when its reward is at least ``CORRECT`` (rewards are 0/1 in the paper).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from typing import Iterable, Optional

import numpy as np

from tandem_rl.eval.anatomy import KINDS
from tandem_rl.eval.bootstrap import Metric, arm_estimate, bootstrap, compare_arms, ratio_estimate
from tandem_rl.eval.passk import pass_at_k_table
from tandem_rl.eval.records import DisplacementRecord, SampleRecord

CORRECT = 0.5


def _grouped(records: Iterable[SampleRecord], schedule: str):
    """benchmark -> problem_id -> records of ``schedule`` (sorted by sample index), in first-seen order."""
    out: dict[str, dict[str, list[SampleRecord]]] = {}
    for r in records:
        if r.schedule == schedule:
            out.setdefault(r.benchmark, {}).setdefault(r.problem_id, []).append(r)
    for probs in out.values():
        for rows in probs.values():
            rows.sort(key=lambda r: r.sample)
    return out


def _per_problem(groups, fn) -> Optional[Metric]:
    """``fn(rows) -> (num, den)`` per problem; ``None`` when no problem has a denominator."""
    num, den, ids = {}, {}, {}
    for b, probs in groups.items():
        pairs = [fn(rows) for rows in probs.values()]
        num[b] = np.array([p[0] for p in pairs], dtype=np.float64)
        den[b] = np.array([p[1] for p in pairs], dtype=np.float64)
        ids[b] = list(probs)
    if not ids or all(d.sum() == 0 for d in den.values()):
        return None
    return Metric(num, den, ids)


def _mean_of(values) -> tuple[float, float]:
    """(nanmean, 1) or (0, 0) when nothing is defined."""
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return (float(np.mean(vals)), 1.0) if vals else (0.0, 0.0)


def _passk_metric(groups, where: str) -> Optional[Metric]:
    num, ids = {}, {}
    n_seen = None
    for b, probs in groups.items():
        rows_ok = []
        for pid, rows in probs.items():
            if n_seen is None:
                n_seen = len(rows)
            if len(rows) != n_seen:
                raise ValueError(f"{where}: problem {b}/{pid} has {len(rows)} samples, others have {n_seen}; "
                                 "pass@k needs the same n for every problem")
            rows_ok.append([r.reward >= CORRECT for r in rows])
        num[b] = pass_at_k_table(np.array(rows_ok, dtype=bool).reshape(len(rows_ok), n_seen))
        ids[b] = list(probs)
    if not ids:
        return None
    return Metric(num, {b: np.ones(len(v)) for b, v in ids.items()}, ids)


def label_metrics(records: list[SampleRecord], where: str = "samples") -> dict[str, Metric]:
    """Every per-problem metric that the records support, keyed by name (see the module table)."""
    metrics: dict[str, Optional[Metric]] = {}
    schedules = list(dict.fromkeys(r.schedule for r in records))
    for s in schedules:
        g = _grouped(records, s)
        prefix = "solo" if s == "solo" else f"handoff_{s}"
        metrics[f"{prefix}_pass@k"] = _passk_metric(g, f"{where} ({s})")
        metrics[f"{s}_tokens"] = _per_problem(g, lambda rows: (np.mean([len(r.response_ids) for r in rows]), 1.0))
        if s != "solo":
            metrics[f"{prefix}_senior_fraction"] = _per_problem(
                g, lambda rows: (sum(sum(r.author) for r in rows), sum(len(r.author) for r in rows)))
            # whether the team's correct answers are the senior's or leaned on the junior (answer authorship)
            metrics[f"{prefix}_junior_answer_share"] = _per_problem(g, lambda rows: (
                sum(1 for r in rows if r.reward >= CORRECT and r.answer_author == "junior"),
                sum(1 for r in rows if r.reward >= CORRECT)))
        metrics.update(_anatomy_metrics(g, prefix, cowritten=s != "solo"))
    solo = _grouped(records, "solo")
    if solo:
        metrics["legibility_ce"] = _per_problem(solo, lambda rows: _mean_of(r.ce_junior for r in rows))
        metrics["legibility_ce_per_byte"] = _per_problem(solo, lambda rows: _mean_of(r.ce_junior_per_byte
                                                                                      for r in rows))
        metrics["drift_kl_base"] = _per_problem(solo, lambda rows: _mean_of(r.kl_base for r in rows))
        metrics["drift_kl_junior"] = _per_problem(solo, lambda rows: _mean_of(r.kl_junior for r in rows))
        metrics["notation_rate"] = _per_problem(
            solo, lambda rows: _mean_of(None if r.notation is None else float(r.notation) for r in rows))
        metrics["faithful"] = _per_problem(
            solo, lambda rows: _mean_of(None if r.steps is None else float(r.steps[1] == 0) for r in rows))
        metrics["correct_with_false_step"] = _per_problem(solo, lambda rows: (
            sum(1 for r in rows if r.steps is not None and r.reward >= CORRECT and r.steps[1] > 0),
            sum(1 for r in rows if r.steps is not None and r.reward >= CORRECT)))
    return {k: v for k, v in metrics.items() if v is not None}


def _anatomy_metrics(groups, prefix: str, *, cowritten: bool) -> dict[str, Optional[Metric]]:
    """Error anatomy per problem: the share of its samples that fail first through each kind (and, co-written, by
    each author); nothing when no record has an anatomy."""
    if not any(r.failure is not None for probs in groups.values() for rows in probs.values() for r in rows):
        return {}

    def share(test):
        return lambda rows: (sum(1 for r in rows if r.failure is not None and test(r)),
                             sum(1 for r in rows if r.failure is not None))

    out = {f"{prefix}_error_{kind}": _per_problem(groups, share(lambda r, k=kind: r.failure == k)) for kind in KINDS}
    if cowritten:
        for who in ("senior", "junior"):
            out[f"{prefix}_error_by_{who}"] = _per_problem(groups, share(lambda r, w=who: r.failure_author == w))
    return out


def displacement_metric(rows: list[DisplacementRecord]) -> Optional[Metric]:
    """Per problem: returned / displaced positions pooled over its shared texts."""
    acc: dict[str, dict[str, list[int]]] = {}
    for r in rows:
        c = acc.setdefault(r.benchmark, {}).setdefault(r.problem_id, [0, 0])
        c[0] += r.returned
        c[1] += r.displaced
    if not acc:
        return None
    return Metric({b: np.array([v[0] for v in p.values()]) for b, p in acc.items()},
                  {b: np.array([v[1] for v in p.values()]) for b, p in acc.items()},
                  {b: list(p) for b, p in acc.items()})


def ratio_names(metrics: dict[str, Metric]) -> list[tuple[str, str, str]]:
    """(name, numerator metric, denominator metric) for handoff / solo pass@k."""
    out = []
    if "solo_pass@k" in metrics:
        for name in metrics:
            if name.startswith("handoff_") and name.endswith("_pass@k"):
                out.append((name.replace("_pass@k", "_over_solo_pass@k"), name, "solo_pass@k"))
    return out


def summarize_metrics(arms: dict[str, list[Metric]], ratios: list[tuple[str, str, str]], *, resamples: int,
                      seed: int, confidence: float) -> dict:
    """``{name: {"macro": est, "benchmarks": {b: est}}}`` for metrics given as per-seed lists (one = one seed).

    One seed: the percentile bootstrap over problems (``bootstrap``, ``resamples`` draws from ``seed``). Two or more:
    the mean over seeds with a t interval over seeds and problems (``arm_estimate``; handoff / solo ratios
    ``ratio_estimate``, seeds paired since both are metrics of the same checkpoints)."""
    opts = dict(resamples=resamples, seed=seed, confidence=confidence)

    def one(seeds, level):
        if len(seeds) > 1:
            return arm_estimate(seeds, level=level, confidence=confidence).to_dict()
        return bootstrap([seeds], level=level, **opts).to_dict()

    def ratio(top, bottom, level):
        if len(top) > 1:
            return ratio_estimate(top, bottom, level=level, confidence=confidence).to_dict()
        return bootstrap([top, bottom], np.divide, level=level, shared_seeds=True, **opts).to_dict()

    out = {}
    for name, seeds in arms.items():
        out[name] = {"macro": one(seeds, "macro"), "benchmarks": {b: one(seeds, b) for b in seeds[0].benchmarks}}
    for name, top, bottom in ratios:
        if top in arms and bottom in arms:
            pair = (arms[top], arms[bottom])
            out[name] = {"macro": ratio(*pair, "macro"),
                         "benchmarks": {b: ratio(*pair, b) for b in arms[top][0].benchmarks}}
    return out


def summarize_label(records: list[SampleRecord], *, label: str, resamples: int = 1000, seed: int = 0,
                    confidence: float = 0.95, extra: Optional[dict[str, Metric]] = None) -> dict:
    """The summary.json of one label: problem counts, n, and every metric with its interval."""
    metrics = label_metrics(records, where=label)
    metrics.update(extra or {})
    solo = metrics.get("solo_pass@k")
    return {
        "label": label,
        "n_samples": int(solo.num[solo.benchmarks[0]].shape[1]) if solo and solo.benchmarks else None,
        "problems": {b: len(v) for b, v in (solo.ids if solo else {}).items()},
        "finish_reasons": {s: dict(sorted(_count(r.finish_reason for r in records if r.schedule == s).items()))
                           for s in dict.fromkeys(r.schedule for r in records)},
        "metrics": summarize_metrics({k: [v] for k, v in metrics.items()}, ratio_names(metrics),
                                     resamples=resamples, seed=seed, confidence=confidence),
        "parts": part_breakdown(metrics, resamples=resamples, seed=seed, confidence=confidence),
    }


def split_parts(metric: Metric, benchmark: str) -> Optional[Metric]:
    """One pooled benchmark split into its parts by problem-id prefix (``aime24:7`` -> part ``aime24``); None when
    it has one part. The paper pools AIME 24/25/26 into one macro entry; the authors' release reports each year::

        >>> ids = {"aime": ["aime24:1", "aime24:2", "aime25:1"]}
        >>> split_parts(Metric({"aime": np.array([1.0, 0.0, 1.0])}, {"aime": np.ones(3)}, ids), "aime").ids
        {'aime24': ['aime24:1', 'aime24:2'], 'aime25': ['aime25:1']}
    """
    parts: dict[str, list[int]] = {}
    for i, pid in enumerate(metric.ids[benchmark]):
        parts.setdefault(pid.split(":", 1)[0] if ":" in pid else benchmark, []).append(i)
    if len(parts) < 2:
        return None
    return Metric({p: metric.num[benchmark][ix] for p, ix in parts.items()},
                  {p: metric.den[benchmark][ix] for p, ix in parts.items()},
                  {p: [metric.ids[benchmark][i] for i in ix] for p, ix in parts.items()})


def part_breakdown(metrics: dict[str, Metric], *, resamples: int, seed: int, confidence: float) -> dict:
    """``{metric: {benchmark: {part: est}}}`` for the pass@k metrics of pooled benchmarks (outside the macro)."""
    out: dict = {}
    for name, m in metrics.items():
        if not name.endswith("_pass@k"):
            continue
        for b in m.benchmarks:
            split = split_parts(m, b)
            if split is not None:
                out.setdefault(name, {})[b] = {p: bootstrap([[split]], level=p, resamples=resamples, seed=seed,
                                                            confidence=confidence).to_dict() for p in split.benchmarks}
    return out


def _count(xs) -> dict:
    d: dict = defaultdict(int)
    for x in xs:
        d[x] += 1
    return d


SEED_SUFFIX = re.compile(r"_s(\d+)$")


def seed_pairing(a: list[str], b: list[str]) -> dict:
    """Whether two seed groups' labels pair seed by seed: both hold the same number (two or more) of labels and, by
    position, the labels' ``_s<seed>`` suffixes (the demo's and the sweep's ``<arm>_s<seed>``) are the same seed.
    Paired arms share their training seeds (and the evaluation seed), so their per-seed differences are compared::

        >>> seed_pairing(["tandem_s0", "tandem_s1"], ["grpo_s0", "grpo_s1"])["paired"]
        True
        >>> seed_pairing(["tandem_s0", "tandem_s2"], ["grpo_s0", "grpo_s1"])["why"]
        'seed suffixes differ by position'
        >>> seed_pairing(["tandem_s0", "tandem_s1"], ["initial"])["why"]
        '2 vs 1 seeds'
    """
    out = {"paired": False, "seeds": [], "why": ""}
    if len(a) != len(b) or len(a) < 2:
        out["why"] = f"{len(a)} vs {len(b)} seeds"
        return out
    sa, sb = [SEED_SUFFIX.search(x) for x in a], [SEED_SUFFIX.search(x) for x in b]
    if not all(sa + sb):
        out["why"] = "labels without an _s<seed> suffix"
    elif [m.group(1) for m in sa] != [m.group(1) for m in sb]:
        out["why"] = "seed suffixes differ by position"
    else:
        out.update(paired=True, seeds=[[x, y] for x, y in zip(a, b)], why="same training seeds")
    return out


def _wanted_pairs(pairs: Optional[list[str]]):
    wanted = None if pairs is None else [tuple(x.strip() for x in p.split(" - ", 1)) for p in pairs]
    if wanted is not None and any(len(w) != 2 or not all(w) for w in wanted):
        raise ValueError(f"eval.pairs: {pairs!r}; each entry must read 'A - B'")
    return wanted


def compare(metrics_by_label: dict[str, dict[str, Metric]], *, groups: Optional[dict[str, list[str]]] = None,
            pairs: Optional[list[str]] = None, resamples: int = 1000, seed: int = 0,
            confidence: float = 0.95) -> dict:
    """Differences (macro, ``a - b`` on the problems both have) for every pair of labels and of seed groups, each
    from ``compare_arms`` (a t interval over seeds and problems; labels: one seed each), plus each seed group's mean
    over seeds with an interval (``summarize_metrics``). ``pairing`` says per group pair whether seeds were paired
    (``seed_pairing``) and which.

    ``pairs`` (e.g. ``["tandem - grpo", "grpo - initial"]``): only these differences, in this direction, between
    labels or between seed groups (a seed group may hold one label, e.g. ``{"initial": ["initial"]}``); the demo
    uses it so that seeds are never compared with seeds nor arms across settings. ``None``: every pair."""
    opts = dict(resamples=resamples, seed=seed, confidence=confidence)
    out: dict = {"pairs": {}, "groups": {}, "group_pairs": {}, "pairing": {}}
    wanted = _wanted_pairs(pairs)
    label_pairs = (itertools.combinations(metrics_by_label, 2) if wanted is None
                   else [(a, b) for a, b in wanted if a in metrics_by_label and b in metrics_by_label])
    for a, b in label_pairs:
        shared = [m for m in metrics_by_label[a] if m in metrics_by_label[b]]
        out["pairs"][f"{a} - {b}"] = {m: compare_arms([metrics_by_label[a][m]], [metrics_by_label[b][m]],
                                                      confidence=confidence).to_dict() for m in shared}
    arms = {}
    for g, labels in (groups or {}).items():
        missing = [lab for lab in labels if lab not in metrics_by_label]
        if missing:
            raise KeyError(f"eval.seed_groups[{g!r}] names label(s) {missing} that were not evaluated")
        names = [m for m in metrics_by_label[labels[0]] if all(m in metrics_by_label[lab] for lab in labels)]
        arms[g] = {m: [metrics_by_label[lab][m] for lab in labels] for m in names}
        out["groups"][g] = {"seeds": list(labels), "metrics": summarize_metrics(
            arms[g], ratio_names(arms[g]), **opts)}
    group_pairs = (itertools.combinations(arms, 2) if wanted is None
                   else [(a, b) for a, b in wanted if a in arms and b in arms])
    for a, b in group_pairs:
        pairing = seed_pairing(groups[a], groups[b])
        out["pairing"][f"{a} - {b}"] = pairing
        out["group_pairs"][f"{a} - {b}"] = {
            m: compare_arms(arms[a][m], arms[b][m], paired=pairing["paired"], confidence=confidence).to_dict()
            for m in arms[a] if m in arms[b]}
    return out
