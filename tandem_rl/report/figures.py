"""Report figures as PNG bytes (matplotlib, Agg backend: no display needed).

    png = passk_figure({"grpo": summary_a, "tandem": summary_b})     # bytes starting with b"\\x89PNG"
    png = training_figure([run_a, run_b])                            # None when no run has a known metric
    png = transfer_figure({"grpo": metrics_a, "tandem": metrics_b}, [0, 0.25, 0.5, 0.75, 1])   # None: no curves
"""

from __future__ import annotations

import io
import math
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Trainer metrics plotted when present (metrics.jsonl keys; see the contracts), in this order.
TRAINING_KEYS = ["reward_mean", "solve_rate", "eval_solo_acc", "senior_fraction", "answer_by_senior",
                 "author_changes", "zero_std_frac", "entropy", "kl_ref", "kl_junior", "clip_frac", "grad_norm",
                 "loss", "rollout_tokens_per_s"]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _num(x) -> float:
    return float("nan") if x is None else float(x)


def passk_figure(summaries: dict[str, dict]) -> Optional[bytes]:
    """Macro pass@k against k, one panel per protocol (solo, each handoff schedule), 95% bands shaded."""
    names = []
    for s in summaries.values():
        for n in s.get("metrics", {}):
            if n.endswith("_pass@k") and "_over_" not in n and n not in names:
                names.append(n)
    if not names:
        return None
    names.sort(key=lambda n: (n != "solo_pass@k", n))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for label, s in summaries.items():
            m = s.get("metrics", {}).get(name)
            if not m:
                continue
            est = m["macro"]
            v = [_num(x) for x in est["value"]]
            k = list(range(1, len(v) + 1))
            line, = ax.plot(k, v, marker="o", ms=3, label=label)
            ax.fill_between(k, [_num(x) for x in est["low"]], [_num(x) for x in est["high"]],
                            color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_title(name.replace("_pass@k", "").replace("_", " ") + " pass@k")
        ax.set_xlabel("k")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("macro pass@k")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    return _png(fig)


def training_figure(runs, keys: Optional[list[str]] = None) -> Optional[bytes]:
    """One panel per trainer metric present in any run's metrics.jsonl, one line per run."""
    keys = keys or TRAINING_KEYS
    present = [k for k in keys if any(k in row for run in runs for row in run.metrics)]
    if not present:
        return None
    cols = min(3, len(present))
    rows = math.ceil(len(present) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, key in zip(axes.flat, present):
        for run in runs:
            pts = [(r["step"], r[key]) for r in run.metrics
                   if isinstance(r.get(key), (int, float)) and isinstance(r.get("step"), (int, float))]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="." if len(pts) < 30 else None, label=run.name)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(present):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def transfer_figure(rows: dict[str, dict], fractions: list[float]) -> Optional[bytes]:
    """Transfer curves (``eval/transfer.py``): the junior's macro accuracy when handed the first fraction f of the
    senior's reasoning, one panel per unit (tokens, steps), one line per row (label or seed group), 95% bands;
    the area under each curve is in the legend. ``rows``: name -> a summary's ``metrics``."""
    units = [u for u in ("tokens", "steps") if any(f"transfer_{u}_accuracy" in m for m in rows.values())]
    if not units or not fractions:
        return None
    fig, axes = plt.subplots(1, len(units), figsize=(4.6 * len(units), 3.6), squeeze=False)
    for ax, unit in zip(axes[0], units):
        for name, metrics in rows.items():
            est = metrics.get(f"transfer_{unit}_accuracy", {}).get("macro")
            if not est or len(est["value"]) != len(fractions):
                continue
            area = metrics.get(f"transfer_{unit}_auc", {}).get("macro", {}).get("value")
            line, = ax.plot(fractions, [_num(x) for x in est["value"]], marker="o", ms=3,
                            label=name if area is None else f"{name} (AUC {area:.2f})")
            ax.fill_between(fractions, [_num(x) for x in est["low"]], [_num(x) for x in est["high"]],
                            color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_title(f"transfer by {unit}")
        ax.set_xlabel(f"fraction f of the senior's reasoning ({unit})")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[0][0].set_ylabel("junior accuracy from the prefix")
    return _png(fig)
