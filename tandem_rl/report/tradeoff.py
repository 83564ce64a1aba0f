"""The accuracy / legibility trade-off view of an evaluation: one point per setting, GRPO and initial marked.

Each *point* is a grid setting of ``tandem-rl sweep`` (its seed group's mean when it has several seeds, else its one
run), or, for an evaluation folder without ``sweep.json``, every evaluated label (seed groups replace their members).
A label ``initial`` is the initial senior and labels starting with ``grpo`` are the vanilla GRPO baseline.

    pts = tradeoff_points(ev)                      # [TradeoffPoint(name="p0.5_mix0", kind="point", ...), ...]
    pts[0].get("solo_pass@k")                      # (value, low, high) of pass@1, or None
    png = tradeoff_figure(pts)                     # solo vs handoff, solo vs junior CE; None if nothing to plot
    html_text = tradeoff_table(pts)                # accuracy next to faithfulness, one row per point
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Optional

from tandem_rl.report import tables
from tandem_rl.report.figures import _png, plt


@dataclass
class TradeoffPoint:
    name: str
    kind: str  # "point" (a tandem setting), "baseline" (vanilla GRPO) or "initial" (the initial senior)
    metrics: dict
    settings: dict = field(default_factory=dict)
    seeds: int = 1

    def get(self, metric: str) -> Optional[tuple[float, Optional[float], Optional[float]]]:
        """(value, low, high) of the macro estimate; pass@k vectors give k = 1."""
        est = (self.metrics.get(metric) or {}).get("macro")
        if not isinstance(est, dict):
            return None
        v, lo, hi = (tables._pick(est.get(k), 0) for k in ("value", "low", "high"))
        if not isinstance(v, (int, float)) or v != v:
            return None
        return float(v), (None if lo is None else float(lo)), (None if hi is None else float(hi))


def handoff_metric(points: list[TradeoffPoint]) -> Optional[str]:
    """The handoff protocol plotted: the paper's ``paragraph`` (step) schedule when present, else the first one."""
    names = sorted({n for p in points for n in p.metrics
                    if n.startswith("handoff_") and n.endswith("_pass@k") and "_over_" not in n})
    if "handoff_paragraph_pass@k" in names:
        return "handoff_paragraph_pass@k"
    return names[0] if names else None


def _kind(label: str, baseline: str = "grpo") -> str:
    return "initial" if label == "initial" else "baseline" if label.startswith(baseline) else "point"


def tradeoff_points(ev) -> list[TradeoffPoint]:
    """Points of an ``EvalFolder`` (see the module docstring); initial first, then the baseline, then settings."""
    groups = ev.comparison.get("groups", {})
    sweep = ev.sweep or {}
    pts: list[TradeoffPoint] = []
    if sweep.get("labels"):
        by_point: dict[str, list[str]] = {}
        for label, info in sweep["labels"].items():
            if label in ev.summaries:
                by_point.setdefault(info.get("point", label), []).append(label)
        if "initial" in ev.summaries:
            pts.append(TradeoffPoint("initial", "initial", ev.summaries["initial"].get("metrics", {})))
        baseline = sweep.get("baseline", "grpo")
        for name, labels in by_point.items():
            kind = "baseline" if name == baseline else "point"
            if name in groups and len(labels) > 1:
                metrics = groups[name].get("metrics", {})
            elif len(labels) == 1:
                metrics = ev.summaries[labels[0]].get("metrics", {})
            else:  # several seeds but no group estimate: not averaged here, so show each seed
                for label in labels:
                    pts.append(TradeoffPoint(label, kind, ev.summaries[label].get("metrics", {}),
                                             dict(sweep.get("points", {}).get(name, {}))))
                continue
            pts.append(TradeoffPoint(name, kind, metrics, dict(sweep.get("points", {}).get(name, {})), len(labels)))
    else:
        members = {label for g in groups.values() for label in g.get("seeds", [])}
        for label, s in ev.summaries.items():
            if label not in members:
                pts.append(TradeoffPoint(label, _kind(label), s.get("metrics", {})))
        for g, entry in groups.items():
            pts.append(TradeoffPoint(g, _kind(g), entry.get("metrics", {}), seeds=len(entry.get("seeds", []))))
    order = {"initial": 0, "baseline": 1, "point": 2}
    return sorted(pts, key=lambda p: order[p.kind])


STYLE = {"initial": dict(marker="*", ms=13, color="black"), "baseline": dict(marker="s", ms=8, color="tab:red"),
         "point": dict(marker="o", ms=6)}
POINT_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
                "tab:cyan", "tab:gray"]


def tradeoff_figure(points: list[TradeoffPoint]) -> Optional[bytes]:
    """Two panels: solo pass@1 against handoff pass@1, and against junior cross-entropy; 95% intervals as bars."""
    hand = handoff_metric(points)
    panels = [(m, t) for m, t in ((hand, "handoff pass@1 (" + (hand or "")[8:-7] + ")"),
                                  ("legibility_ce", "junior CE on solo text (nats/token, lower = more legible)"))
              if m and any(p.get(m) and p.get("solo_pass@k") for p in points)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    for ax, (metric, title) in zip(axes[0], panels):
        colors = iter(POINT_COLORS * (1 + len(points) // len(POINT_COLORS)))
        for p in points:
            x, y = p.get(metric), p.get("solo_pass@k")
            style = dict(STYLE[p.kind])
            if p.kind == "point":
                style["color"] = next(colors)  # same colour for a setting in both panels; never the baseline's red
            if not x or not y:
                continue
            xerr = [[x[0] - x[1]], [x[2] - x[0]]] if x[1] is not None and x[2] is not None else None
            yerr = [[y[0] - y[1]], [y[2] - y[0]]] if y[1] is not None and y[2] is not None else None
            ax.errorbar([x[0]], [y[0]], xerr=xerr, yerr=yerr, linestyle="none", capsize=3, elinewidth=1,
                        label=p.name + (f" ({p.seeds} seeds)" if p.seeds > 1 else ""), **style)
            ax.annotate(p.name, (x[0], y[0]), textcoords="offset points", xytext=(5, 4), fontsize=7)
        ax.set_xlabel(title, fontsize=9)
        ax.set_ylabel("solo pass@1")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle("Accuracy vs legibility (95% bootstrap intervals)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def tradeoff_table(points: list[TradeoffPoint]) -> str:
    """One row per point: its settings, solo and handoff accuracy, junior CE, jargon, and the faithfulness rates."""
    if not points:
        return ""
    keys = []
    for p in points:
        keys += [k for k in p.settings if k not in keys]
    hand = handoff_metric(points)
    cols = [tables.Column("solo_pass@k", "solo pass@1", 0)]
    if hand:
        cols.append(tables.Column(hand, f"handoff ({hand[8:-7]}) pass@1", 0))
    cols += [tables.Column("legibility_ce", "junior CE", percent=False),
             tables.Column("notation_rate", "notation rate"),
             tables.Column("faithful", "all steps true", help="share of solo responses whose steps are all true"),
             tables.Column("correct_with_false_step", "correct w/ false step",
                           help="share of correct solo answers with a false step")]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys) + "<th>seeds</th>" + "".join(
        f'<th title="{html.escape(c.help)}">{html.escape(c.title)}</th>' for c in cols)
    body = ""
    for p in points:
        cells = "".join(f"<td>{html.escape(str(p.settings.get(k, '')))}</td>" for k in keys)
        cells += f"<td>{p.seeds}</td>"
        cells += "".join(f"<td>{tables.fmt((p.metrics.get(c.metric) or {}).get('macro'), c)}</td>" for c in cols)
        body += f"<tr><th>{html.escape(p.name)} <span class=\"meta\">{p.kind}</span></th>{cells}</tr>"
    return f'<table class="results"><tr><th>setting</th>{head}</tr>{body}</table>'
