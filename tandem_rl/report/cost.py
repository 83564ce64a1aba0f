"""Cost per role: what the senior and the junior each wrote and computed, per training step and per evaluation.

In lockstep both models ingest every token whoever wrote it, so a model's compute follows the tokens it
*processed*, not the ones it wrote: the tables show both (``Rollouts.cost`` in ``cogen/rollouts.py`` and the
engine's forward timing are the sources). Parameters x positions is a FLOP proxy (~2 FLOPs per parameter per
position) that does not depend on the machine or its load; forward seconds are wall time inside the model's passes.

Worked example (``metrics.jsonl`` of two runs, means over logged steps)::

    grpo:   step_seconds 7.0,  junior_param_tokens 0 (the junior never ran: the baseline)
    tandem: step_seconds 11.9, senior_tokens_written 64, junior_tokens_written 60, ...
    training_cost([grpo, tandem])[1]["overhead"]["step_seconds"] == 1.7     # 11.9 / 7.0

A run whose junior never ran (``junior_param_tokens`` 0: vanilla GRPO) is the baseline; every other run's step
time, rollout time and total parameters x positions are shown as a multiple of the baselines' mean.
"""

from __future__ import annotations

import html
from typing import Optional

import numpy as np

ROLE_KEYS = ["senior_tokens_written", "junior_tokens_written", "senior_forward_seconds", "junior_forward_seconds",
             "senior_param_tokens", "junior_param_tokens"]
TITLES = {"senior_tokens_written": "senior wrote (tokens)", "junior_tokens_written": "junior wrote (tokens)",
          "senior_forward_seconds": "senior forward (s)", "junior_forward_seconds": "junior forward (s)",
          "senior_param_tokens": "senior params x tokens", "junior_param_tokens": "junior params x tokens",
          "rollout_seconds": "rollout (s)", "update_seconds": "update (s)", "step_seconds": "step (s)"}


def _fmt(x: Optional[float], key: str) -> str:
    if x is None or not np.isfinite(x):
        return "\u2013"
    if key.endswith("param_tokens"):
        return f"{x:.2e}"
    return f"{x:.3g}" if key.endswith("seconds") else f"{x:.1f}"


def step_means(rows: list[dict], keys: list[str]) -> dict[str, Optional[float]]:
    """Mean over the logged steps of each key (None where no step has it).

    >>> step_means([{"a": 1.0}, {"a": 3.0, "b": 2}], ["a", "b", "c"])
    {'a': 2.0, 'b': 2.0, 'c': None}
    """
    out = {}
    for k in keys:
        vals = [float(r[k]) for r in rows if isinstance(r.get(k), (int, float))]
        out[k] = float(np.mean(vals)) if vals else None
    return out


def training_cost(runs) -> list[dict]:
    """Per run: ``name`` and the per-step means of the role keys and timings, plus ``overhead`` (step time,
    rollout time and parameters x positions as multiples of the baseline runs' means; None without a baseline)."""
    keys = ROLE_KEYS + ["rollout_seconds", "update_seconds", "step_seconds"]
    out = [{"name": r.name, **step_means(r.metrics, keys)} for r in runs]
    base = [o for o in out if o["junior_param_tokens"] == 0 and o["senior_param_tokens"]]

    def total_pt(o):
        s, j = o["senior_param_tokens"], o["junior_param_tokens"]
        return None if s is None or j is None else s + j

    for o in out:
        o["overhead"] = {}
        for k, get in (("step_seconds", lambda x: x["step_seconds"]),
                       ("rollout_seconds", lambda x: x["rollout_seconds"]), ("param_tokens", total_pt)):
            ref = [get(b) for b in base if get(b)]
            v = get(o)
            o["overhead"][k] = v / float(np.mean(ref)) if ref and v is not None else None
    return out


def training_cost_table(runs) -> str:
    rows = training_cost(runs)
    if not any(r["senior_tokens_written"] is not None for r in rows):
        return ""
    keys = ROLE_KEYS + ["rollout_seconds", "update_seconds", "step_seconds"]
    head = "".join(f"<th>{html.escape(TITLES[k])}</th>" for k in keys)
    head += "<th>step / solo</th><th>rollout / solo</th><th>params x tokens / solo</th>"
    body = ""
    for r in rows:
        cells = "".join(f"<td>{_fmt(r[k], k)}</td>" for k in keys)
        cells += "".join(f"<td>{_ratio(r['overhead'][k])}</td>" for k in ("step_seconds", "rollout_seconds",
                                                                          "param_tokens"))
        body += f"<tr><th>{html.escape(r['name'])}</th>{cells}</tr>"
    return (f'<table class="results"><tr><th>run (mean per step)</th>{head}</tr>{body}</table>'
            '<p class="note">Tokens written come from the authorship mask; forward seconds and parameters x tokens '
            "processed from the engine (rollouts only; the update trains the senior alone: update seconds). "
            '"solo" = the mean of the runs whose junior never ran (vanilla GRPO).</p>')


def _ratio(x: Optional[float]) -> str:
    return "\u2013" if x is None else f"{x:.2f}x"


def eval_cost_table(summaries: dict[str, dict]) -> str:
    """Per label and protocol (solo, each handoff schedule, transfer): per-sample means of the role keys."""
    body = ""
    for label, s in summaries.items():
        for protocol, c in (s.get("cost") or {}).items():
            n = max(int(c.get("rows") or 0), 1)
            cells = "".join(f"<td>{_fmt(c[k] / n if isinstance(c.get(k), (int, float)) else None, k)}</td>"
                            for k in ROLE_KEYS)
            body += (f"<tr><th>{html.escape(label)}</th><td>{html.escape(protocol)}</td><td>{n}</td>{cells}"
                     f"<td>{_fmt(c.get('seconds'), 'seconds')}</td></tr>")
    if not body:
        return ""
    head = "".join(f"<th>{html.escape(TITLES[k])} / sample</th>" for k in ROLE_KEYS)
    return (f'<table class="results"><tr><th>label</th><th>protocol</th><th>samples</th>{head}'
            f"<th>engine wall (s)</th></tr>{body}</table>")
