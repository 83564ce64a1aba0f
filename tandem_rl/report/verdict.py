"""The verdict: for each setting, each claim of the method as one line, read off paired differences over seeds.

Two settings that must never be mixed (docs/world.md):

- ``paper`` (Jiao et al.): the junior is a frozen copy of the senior's own starting weights (self-paired,
  ``model.junior=null``); handoff is measured with that frozen base (the initial senior) as the partner.
- ``west`` (West et al.): a different, weaker junior that never learned the senior's private notation
  (``world:junior``); handoff and legibility are measured with that junior.

Each claim is data (``CLAIMS``): a metric, which direction is better, the two arms compared, and a rule. The values
come from an evaluation folder whose ``comparison.json`` names the setting (``eval.setting``): the arms' means pooled
over seeds (``groups``) and the difference ``arm - baseline`` with its t interval over seeds and problems
(``group_pairs``, ``eval/bootstrap.py`` ``compare_arms``; seeds paired when the arms share them, ``pairing``).

Words by claim type. Non-inferiority ("kept"): "kept" (the interval's worse end within the margin), "lost" (the
whole interval on the worse side of zero), else "not shown non-inferior". Two-sided ("improves"): "improves",
"worse", else "no difference detected". Every line also says what the design could have seen: the difference it
detects with 80% power (``mdd``) and, for a claim not shown kept, the point estimate "kept" would have needed::

    >>> claim = Claim("paper", "solo accuracy is kept", "solo_pass@k", "higher", "kept", margin=0.02)
    >>> judge(claim, -0.01, 0.03), judge(claim, -0.05, 0.01), judge(claim, -0.08, -0.03)
    ('kept', 'not shown non-inferior', 'lost')
    >>> reading_text(claim, "kept")
    'kept (within 2 points)'
    >>> judge(Claim("west", "notation drops", "notation_rate", "lower", "improves"), -0.9, -0.7)
    'improves'
    >>> detect_text(claim, {"value": -0.023, "low": -0.067, "high": 0.021, "mdd": 0.062, "se": 0.022, "df": 4.0})
    'could detect ±6.2; kept needs ≥ +2.4 (a true 0 gets there 17% of the time)'
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Optional

from tandem_rl.eval.bootstrap import t_cdf
from tandem_rl.report.tables import Column, fmt


@dataclass(frozen=True)
class Setting:
    name: str          # the value of eval.setting in the evaluation folder that measures it
    title: str
    partner: str       # which model is the junior at evaluation: "base" (the initial senior) or "junior"
    partner_text: str
    arm: str           # the tandem arm of this setting (a seed group of the demo)
    baseline: str = "grpo"


SETTINGS = (
    Setting("paper", "Paper's setting (Jiao et al.): the junior is a frozen copy of the senior's starting weights",
            "base", "the frozen base (the initial senior)", "tandem_self"),
    Setting("west", "West et al.'s setting: a different, weaker junior that never learned the senior's notation",
            "junior", "the world junior (weaker, plain steps only)", "tandem_weak"),
)


@dataclass(frozen=True)
class Claim:
    setting: str
    text: str
    metric: str        # a metric name of summary.json
    better: str        # "higher" or "lower"
    rule: str          # "improves": the interval excludes zero on the better side; "kept": its worse end is
    #                    within ``margin`` of zero
    margin: float = 0.0  # in the metric's units (0.02 = 2 points of accuracy)
    percent: bool = True


CLAIMS = (
    Claim("paper", "solo accuracy is kept", "solo_pass@k", "higher", "kept", margin=0.02),
    Claim("paper", "handoff accuracy with the frozen base improves (step handoff)", "handoff_paragraph_pass@k",
          "higher", "improves"),
    Claim("paper", "drift is lower (KL to the initial senior, nats/token)", "drift_kl_base", "lower", "improves",
          percent=False),
    Claim("west", "the private notation drops (eval.notation_regex rate)", "notation_rate", "lower", "improves"),
    Claim("west", "legibility improves (the junior's cross-entropy on solo text, nats/token)", "legibility_ce",
          "lower", "improves", percent=False),
    Claim("west", "handoff accuracy with the weaker junior improves (step handoff)", "handoff_paragraph_pass@k",
          "higher", "improves"),
    Claim("west", "solo accuracy is kept", "solo_pass@k", "higher", "kept", margin=0.02),
)

SUPPORTED = {"improves", "kept"}
AGAINST = {"worse", "lost"}


def judge(claim: Claim, low: float, high: float) -> str:
    """The reading of a difference ``arm - baseline`` with interval [low, high] under ``claim``'s rule: for a
    non-inferiority claim 'kept' / 'not shown non-inferior' / 'lost', for a two-sided one 'improves' / 'worse' /
    'no difference detected'."""
    if claim.better == "lower":
        low, high = -high, -low  # oriented: positive = better
    if claim.rule == "kept":
        if low >= -claim.margin:
            return "kept"
        return "lost" if high < 0 else "not shown non-inferior"
    if low > 0:
        return "improves"
    return "worse" if high < 0 else "no difference detected"


def _amount(claim: Claim, x: float, signed: bool = False) -> str:
    return f"{x * 100:{'+' if signed else ''}.1f}" if claim.percent else f"{x:{'+' if signed else ''}.3f}"


def _margin(claim: Claim) -> str:
    return f"{claim.margin * 100:g} points" if claim.percent else f"{claim.margin:g}"


def reading_text(claim: Claim, reading: str) -> str:
    """The reading as printed: 'kept' says its margin."""
    return f"kept (within {_margin(claim)})" if reading == "kept" else reading


def explain(claim: Claim, reading: str) -> str:
    """The reading in plain words, with the rule that gave it."""
    margin = _margin(claim)
    return {
        "improves": "supported: the interval excludes zero on the better side",
        "worse": "not supported: the interval excludes zero on the worse side",
        "no difference detected": "not shown: the interval includes zero",
        "kept": f"supported: the whole interval is above -{margin}",
        "lost": "not supported: the whole interval is on the worse side of zero",
        "not shown non-inferior": f"not shown: the interval reaches below -{margin} (and includes zero)",
        "not measured": "not measured in these folders",
    }[reading]


def detect_text(claim: Claim, diff: Optional[dict], index: Optional[int] = None) -> str:
    """What this design could have seen: 'could detect ±X' (the difference it detects with 80% power) and, for a
    non-inferiority claim not shown kept, the point estimate 'kept' needs at this precision and how often a true
    difference of zero reaches it."""
    mdd = _pick(diff.get("mdd"), index) if diff else None
    if mdd is None:
        return ""
    out = f"could detect ±{_amount(claim, mdd)}"
    value, low, se = (_pick(diff.get(k), index) for k in ("value", "low", "se"))
    df = _pick(diff.get("df"), index)
    if claim.rule == "kept" and None not in (value, low, se) and se > 0:
        half = (value - low) if claim.better == "higher" else (_pick(diff.get("high"), index) - value)
        need = half - claim.margin  # oriented: kept needs (better-side) estimate >= need
        chance = 1.0 - t_cdf(need / se, df)
        out += f"; kept needs ≥ {_amount(claim, need if claim.better == 'higher' else -need, True)}" + \
            f" (a true 0 gets there {chance * 100:.0f}% of the time)"
    return out


@dataclass
class Line:
    setting: Setting
    claim: Claim
    values: dict         # row name -> estimate ({"value", "low", "high"}), arms pooled over seeds
    diff: Optional[dict]  # the difference arm - baseline (value, low, high, se, df, mdd, ...)
    reading: str
    seeds: int
    pairing: Optional[dict] = None  # comparison.json "pairing" of the two arms: paired, seeds, why
    index: Optional[int] = None     # the k of a pass@k vector (0-based)


def _macro(metrics: dict, name: str) -> Optional[dict]:
    return (metrics.get(name) or {}).get("macro")


def _negated(est: dict) -> dict:
    neg = (lambda x: [-v if v is not None else None for v in x] if isinstance(x, list)
           else (None if x is None else -x))
    return {**est, "value": neg(est.get("value")), "low": neg(est.get("high")), "high": neg(est.get("low"))}


def difference(comparison: dict, a: str, b: str, metric: str) -> Optional[dict]:
    """``a - b`` of ``metric`` from a comparison (seed groups first, then single labels; ``b - a`` is negated)."""
    for key in ("group_pairs", "pairs"):
        pairs = comparison.get(key, {})
        if metric in pairs.get(f"{a} - {b}", {}):
            return pairs[f"{a} - {b}"][metric]
        if metric in pairs.get(f"{b} - {a}", {}):
            return _negated(pairs[f"{b} - {a}"][metric])
    return None


def pairing_of(comparison: dict, a: str, b: str) -> Optional[dict]:
    """How the seeds of arms ``a`` and ``b`` were compared (``comparison.json`` ``pairing``), either order."""
    pairing = comparison.get("pairing", {})
    return pairing.get(f"{a} - {b}") or pairing.get(f"{b} - {a}")


def pairing_text(pairing: Optional[dict], seeds: int) -> str:
    """'3 seeds each, paired by seed (s0, s1, s2)' or '..., unpaired (why)'."""
    head = f"{seeds} seed(s) each"
    if seeds <= 1:
        return f"{head} (1 seed: no seed variance, intervals over problems only)"
    if not pairing:
        return f"{head}, unpaired"
    if pairing.get("paired"):
        names = ", ".join(f"{x}~{y}" for x, y in pairing.get("seeds", []))
        return f"{head}, paired by seed ({names})"
    return f"{head}, unpaired ({pairing.get('why') or 'seeds not matched'})"


def arm_metrics(ev, name: str) -> dict:
    """An arm's metrics pooled over its seeds (its seed group), or a single label's."""
    group = ev.comparison.get("groups", {}).get(name)
    if group:
        return group.get("metrics", {})
    return ev.summaries.get(name, {}).get("metrics", {})


def folder_setting(ev) -> Optional[str]:
    """The setting an evaluation folder measured (``eval.setting``), or None."""
    if ev.comparison.get("setting"):
        return ev.comparison["setting"]
    return next((s.get("setting") for s in ev.summaries.values() if s.get("setting")), None)


def _pick(x, index):
    if isinstance(x, list):
        return x[min(index or 0, len(x) - 1)] if x else None
    return x


def verdict_lines(evals, k: int) -> list[Line]:
    """One line per claim of every setting that an evaluation folder measured."""
    out = []
    for setting in SETTINGS:
        ev = next((e for e in evals if folder_setting(e) == setting.name), None)
        if ev is None:
            continue
        seeds = len(ev.comparison.get("groups", {}).get(setting.arm, {}).get("seeds", [])) or 1
        pairing = pairing_of(ev.comparison, setting.arm, setting.baseline)
        for claim in (c for c in CLAIMS if c.setting == setting.name):
            values = {name: _macro(arm_metrics(ev, name), claim.metric)
                      for name in (setting.arm, setting.baseline, "initial")}
            diff = difference(ev.comparison, setting.arm, setting.baseline, claim.metric)
            reading, i = "not measured", None
            if diff is not None:
                n = len(diff["value"]) if isinstance(diff.get("value"), list) else 1
                i = max(0, min(k, n) - 1) if isinstance(diff.get("value"), list) else None
                low, high = _pick(diff.get("low"), i), _pick(diff.get("high"), i)
                if low is not None and high is not None and low == low and high == high:
                    reading = judge(claim, low, high)
            out.append(Line(setting, claim, values, diff, reading, seeds, pairing, i))
    return out


def _column(claim: Claim, k: int, values) -> Column:
    index = None
    if claim.metric.endswith("pass@k"):
        n = next((len(v["value"]) for v in values if v and isinstance(v.get("value"), list)), k)
        index = max(0, min(k, n) - 1)
    return Column(claim.metric, "", index, percent=claim.percent)


NOTE = ("Each line: the arms' values pooled over seeds, the difference (tandem minus GRPO, on the same problems and, "
        "where the arms share their training seeds, seed by seed) with its 95% t interval over seeds and problems "
        "(docs/evaluation.md), what the design could detect (the difference it finds with 80% power), and what it "
        'says. Two-sided claims read "improves" or "worse" when the interval excludes zero, else "no difference '
        'detected"; non-inferiority claims read "kept" when the interval\'s lower end is above the stated margin, '
        '"lost" when the whole interval is below zero, else "not shown non-inferior". At 2-3 seeds the t quantile '
        "is large (12.7 at 2 seeds, 4.3 at 3): a difference this design cannot detect is not evidence of none.")


def _claim_row(ln: Line, k: int) -> str:
    setting = ln.setting
    col = _column(ln.claim, k, [*ln.values.values(), ln.diff])
    cells = "".join(f"<td>{fmt(ln.values.get(n), col)}</td>" for n in (setting.arm, setting.baseline, "initial"))
    css = "yes" if ln.reading in SUPPORTED else ("no" if ln.reading in AGAINST else "open")
    return (f'<tr class="claim" data-reading="{html.escape(ln.reading)}"><th>{html.escape(ln.claim.text)}</th>'
            f"{cells}<td>{fmt(ln.diff, col, signed=True)}</td>"
            f"<td>{html.escape(detect_text(ln.claim, ln.diff, ln.index))}</td>"
            f'<td class="{css}"><b>{html.escape(reading_text(ln.claim, ln.reading))}</b>: '
            f"{html.escape(explain(ln.claim, ln.reading).split(': ', 1)[-1])}</td></tr>")


def verdict_html(lines: list[Line], k: int) -> str:
    """One table per setting: claim, the arms' pooled values, the difference, what it could detect, the reading."""
    if not lines:
        return ('<p class="note">No evaluation folder names its setting (eval.setting), so no claim is read off '
                "here; the tables below hold the numbers.</p>")
    body = f'<p class="note">{html.escape(NOTE)} Accuracies are pass@{k} in percent.</p>'
    for setting in SETTINGS:
        mine = [ln for ln in lines if ln.setting is setting]
        if not mine:
            continue
        rows = "".join(_claim_row(ln, k) for ln in mine)
        body += (f'<h3 class="setting" data-setting="{setting.name}">{html.escape(setting.title)}</h3>'
                 f'<p class="note">Partner at evaluation: {html.escape(setting.partner_text)}; arms: '
                 f"{html.escape(setting.arm)} vs {html.escape(setting.baseline)}, "
                 f"{html.escape(pairing_text(mine[0].pairing, mine[0].seeds))}.</p>"
                 f'<table class="results verdict"><tr><th>claim</th><th>{html.escape(setting.arm)}</th>'
                 f"<th>{html.escape(setting.baseline)}</th><th>initial</th><th>difference [95% CI]</th>"
                 f"<th>could detect (80% power)</th><th>reading</th></tr>{rows}</table>")
    return body


def verdict_text(lines: list[Line], k: int) -> str:
    """The same lines for a terminal."""
    out = []
    for setting in SETTINGS:
        mine = [ln for ln in lines if ln.setting is setting]
        if not mine:
            continue
        out.append(f"{setting.title}\n  partner: {setting.partner_text}; {setting.arm} vs {setting.baseline}, "
                   f"{pairing_text(mine[0].pairing, mine[0].seeds)}; accuracies pass@{k} in percent")
        for ln in mine:
            col = _column(ln.claim, k, [*ln.values.values(), ln.diff])
            vals = ", ".join(f"{n} {fmt(_point(ln.values.get(n)), col)}" for n in (setting.arm, setting.baseline))
            detect = detect_text(ln.claim, ln.diff, ln.index)
            out.append(f"  - {ln.claim.text}: {reading_text(ln.claim, ln.reading).upper()} ({vals}; difference "
                       f"{fmt(ln.diff, col, signed=True)}{'; ' + detect if detect else ''})")
    return "\n".join(out)


def _point(est: Optional[dict]) -> Optional[dict]:
    return {"value": est.get("value")} if est else None
