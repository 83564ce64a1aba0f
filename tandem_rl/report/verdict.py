"""The verdict: for each setting, each claim of the method as one line, read off paired differences over seeds.

Two settings that must never be mixed (docs/world.md):

- ``paper`` (Jiao et al.): the junior is a frozen copy of the senior's own starting weights (self-paired,
  ``model.junior=null``); handoff is measured with that frozen base (the initial senior) as the partner.
- ``west`` (West et al.): a different, weaker junior that never learned the senior's private notation
  (``world:junior``); handoff and legibility are measured with that junior.

Each claim is data (``CLAIMS``): a metric, which direction is better, the two arms compared, and a rule. The values
come from an evaluation folder whose ``comparison.json`` names the setting (``eval.setting``): the arms' means pooled
over seeds (``groups``) and the paired difference ``arm - baseline`` with its interval (``group_pairs``: the same
problems, resampling seeds and problems, ``eval/bootstrap.py``). The rules::

    >>> claim = Claim("paper", "solo accuracy is kept", "solo_pass@k", "higher", "kept", margin=0.02)
    >>> judge(claim, -0.01, 0.03), judge(claim, -0.05, 0.01), judge(claim, -0.08, -0.03)
    ('kept', 'no difference detected', 'lost')
    >>> judge(Claim("west", "notation drops", "notation_rate", "lower", "improves"), -0.9, -0.7)
    'improves'
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Optional

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


def judge(claim: Claim, low: float, high: float) -> str:
    """The reading of a difference ``arm - baseline`` with interval [low, high] under ``claim``'s rule:
    'improves' / 'worse' / 'kept' / 'lost' / 'no difference detected'."""
    if claim.better == "lower":
        low, high = -high, -low  # oriented: positive = better
    if claim.rule == "kept":
        if low >= -claim.margin:
            return "kept"
        return "lost" if high < 0 else "no difference detected"
    if low > 0:
        return "improves"
    return "worse" if high < 0 else "no difference detected"


def explain(claim: Claim, reading: str) -> str:
    """The reading in plain words, with the rule that gave it."""
    margin = f"{claim.margin * 100:g} points" if claim.percent else f"{claim.margin:g}"
    return {
        "improves": "supported: the interval excludes zero on the better side",
        "worse": "not supported: the interval excludes zero on the worse side",
        "kept": f"supported: the whole interval is above -{margin}",
        "lost": "not supported: the whole interval is below zero",
        "no difference detected": ("not shown: the interval includes zero" if claim.rule == "improves" else
                                   f"not shown: the interval reaches below -{margin}"),
        "not measured": "not measured in these folders",
    }[reading]


@dataclass
class Line:
    setting: Setting
    claim: Claim
    values: dict         # row name -> estimate ({"value", "low", "high"}), arms pooled over seeds
    diff: Optional[dict]  # the paired difference arm - baseline
    reading: str
    seeds: int


def _macro(metrics: dict, name: str) -> Optional[dict]:
    return (metrics.get(name) or {}).get("macro")


def _negated(est: dict) -> dict:
    neg = (lambda x: [-v if v is not None else None for v in x] if isinstance(x, list)
           else (None if x is None else -x))
    return {"value": neg(est.get("value")), "low": neg(est.get("high")), "high": neg(est.get("low"))}


def difference(comparison: dict, a: str, b: str, metric: str) -> Optional[dict]:
    """``a - b`` of ``metric`` from a comparison (seed groups first, then single labels; ``b - a`` is negated)."""
    for key in ("group_pairs", "pairs"):
        pairs = comparison.get(key, {})
        if metric in pairs.get(f"{a} - {b}", {}):
            return pairs[f"{a} - {b}"][metric]
        if metric in pairs.get(f"{b} - {a}", {}):
            return _negated(pairs[f"{b} - {a}"][metric])
    return None


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
    return x[index] if isinstance(x, list) and index < len(x) else x


def verdict_lines(evals, k: int) -> list[Line]:
    """One line per claim of every setting that an evaluation folder measured."""
    out = []
    for setting in SETTINGS:
        ev = next((e for e in evals if folder_setting(e) == setting.name), None)
        if ev is None:
            continue
        seeds = len(ev.comparison.get("groups", {}).get(setting.arm, {}).get("seeds", [])) or 1
        for claim in (c for c in CLAIMS if c.setting == setting.name):
            values = {name: _macro(arm_metrics(ev, name), claim.metric)
                      for name in (setting.arm, setting.baseline, "initial")}
            diff = difference(ev.comparison, setting.arm, setting.baseline, claim.metric)
            reading = "not measured"
            if diff is not None:
                n = len(diff["value"]) if isinstance(diff.get("value"), list) else 1
                i = max(0, min(k, n) - 1)
                low, high = _pick(diff.get("low"), i), _pick(diff.get("high"), i)
                if low is not None and high is not None and low == low and high == high:
                    reading = judge(claim, low, high)
            out.append(Line(setting, claim, values, diff, reading, seeds))
    return out


def _column(claim: Claim, k: int, values) -> Column:
    index = None
    if claim.metric.endswith("pass@k"):
        n = next((len(v["value"]) for v in values if v and isinstance(v.get("value"), list)), k)
        index = max(0, min(k, n) - 1)
    return Column(claim.metric, "", index, percent=claim.percent)


def verdict_html(lines: list[Line], k: int) -> str:
    """One table per setting: claim, the arms' pooled values, the paired difference, the reading."""
    if not lines:
        return ('<p class="note">No evaluation folder names its setting (eval.setting), so no claim is read off '
                "here; the tables below hold the numbers.</p>")
    body = ('<p class="note">Each line: the arms\' values pooled over seeds, the paired difference (tandem minus '
            "GRPO, on the same problems) with its 95% interval resampling seeds and problems, and what it says. "
            '"Improves" needs an interval that excludes zero; "kept" needs the interval\'s lower end above the '
            f"stated margin. Accuracies are pass@{k} in percent.</p>")
    for setting in SETTINGS:
        mine = [ln for ln in lines if ln.setting is setting]
        if not mine:
            continue
        rows = ""
        for ln in mine:
            col = _column(ln.claim, k, [*ln.values.values(), ln.diff])
            cells = "".join(f"<td>{fmt(ln.values.get(n), col)}</td>"
                            for n in (setting.arm, setting.baseline, "initial"))
            css = "yes" if ln.reading in SUPPORTED else ("no" if ln.reading in ("worse", "lost") else "open")
            rows += (f'<tr class="claim" data-reading="{html.escape(ln.reading)}"><th>{html.escape(ln.claim.text)}'
                     f"</th>{cells}<td>{fmt(ln.diff, col, signed=True)}</td>"
                     f'<td class="{css}"><b>{html.escape(ln.reading)}</b>: '
                     f"{html.escape(explain(ln.claim, ln.reading).split(': ', 1)[-1])}</td></tr>")
        seeds = mine[0].seeds
        body += (f'<h3 class="setting" data-setting="{setting.name}">{html.escape(setting.title)}</h3>'
                 f'<p class="note">Partner at evaluation: {html.escape(setting.partner_text)}; arms: '
                 f"{html.escape(setting.arm)} vs {html.escape(setting.baseline)}, {seeds} seed(s) each.</p>"
                 f'<table class="results verdict"><tr><th>claim</th><th>{html.escape(setting.arm)}</th>'
                 f"<th>{html.escape(setting.baseline)}</th><th>initial</th><th>difference [95% CI]</th>"
                 f"<th>reading</th></tr>{rows}</table>")
    return body


def verdict_text(lines: list[Line], k: int) -> str:
    """The same lines for a terminal."""
    out = []
    for setting in SETTINGS:
        mine = [ln for ln in lines if ln.setting is setting]
        if not mine:
            continue
        out.append(f"{setting.title}\n  partner: {setting.partner_text}; {setting.arm} vs {setting.baseline}, "
                   f"{mine[0].seeds} seed(s) each; accuracies pass@{k} in percent")
        for ln in mine:
            col = _column(ln.claim, k, [*ln.values.values(), ln.diff])
            vals = ", ".join(f"{n} {fmt(_point(ln.values.get(n)), col)}" for n in (setting.arm, setting.baseline))
            out.append(f"  - {ln.claim.text}: {ln.reading.upper()} ({vals}; difference "
                       f"{fmt(ln.diff, col, signed=True)})")
    return "\n".join(out)


def _point(est: Optional[dict]) -> Optional[dict]:
    return {"value": est.get("value")} if est else None
