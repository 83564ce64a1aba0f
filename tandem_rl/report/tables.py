"""HTML tables: the Table-2-style comparison, paired differences, and per-benchmark pass@k.

Cells read ``value [low, high]``: a single label's 95% percentile bootstrap over problems; a seed group's mean over
seeds and every difference, a 95% t interval over seeds and problems (``eval/bootstrap.py``). Rates are shown in
percent, cross-entropy and KL in nats per token. A difference whose interval excludes 0 is shown in bold; its
tooltip holds what the design could detect (80% power) and whether seeds were paired.

    columns_for(metrics_by_row, k=4)  # -> [Column("solo_pass@k", "solo pass@4", index=3, percent=True), ...]
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Optional


@dataclass
class Column:
    metric: str
    title: str
    index: Optional[int] = None  # position inside a pass@k vector
    percent: bool = True
    help: str = ""


def columns_for(rows: dict[str, dict], k: int) -> list[Column]:
    """The table columns that at least one row has data for, in the paper's order."""
    names = {n for m in rows.values() for n in m}
    n_max = max((len(m[n]["macro"]["value"]) for m in rows.values() for n in m if n.endswith("pass@k")), default=1)
    kk = max(1, min(k, n_max))
    cols = [Column("solo_pass@k", f"solo pass@{kk}", kk - 1, help="senior alone, macro over benchmarks")]
    for n in sorted(names):
        if n.startswith("handoff_") and n.endswith("_pass@k") and "_over_" not in n:
            sched = n[len("handoff_"):-len("_pass@k")]
            cols.append(Column(n, f"handoff ({sched}) pass@{kk}", kk - 1, help="senior and junior take turns"))
            cols.append(Column(f"handoff_{sched}_over_solo_pass@k", f"handoff/solo ({sched})", kk - 1,
                               help="ratio of the two macro values"))
            cols.append(Column(f"handoff_{sched}_junior_answer_share", f"junior wrote the answer ({sched})",
                               help="share of correct handoff answers whose boxed answer the junior wrote"))
    cols += [
        Column("legibility_ce", "legibility: junior CE", percent=False,
               help="nats/token on solo text; lower = more legible"),
        Column("legibility_ce_per_byte", "junior CE per byte", percent=False,
               help="nats/byte on solo text: the junior's summed CE over the text's UTF-8 bytes, comparable across "
                    "tokenizers; lower = more legible"),
        Column("drift_kl_base", "drift: KL to base", percent=False, help="KL(senior||base) nats/token on solo text"),
        Column("drift_kl_junior", "KL to junior", percent=False, help="KL(senior||junior) nats/token on solo text"),
        Column("transfer_tokens_auc", "transfer AUC (tokens)",
               help="area under the junior's accuracy from prefixes of the senior's reasoning, by tokens"),
        Column("transfer_steps_auc", "transfer AUC (steps)",
               help="area under the junior's accuracy from prefixes of the senior's reasoning, by steps"),
        Column("notation_rate", "notation rate", help="share of solo responses matching eval.notation_regex"),
        Column("faithful", "all steps true", help="share of solo responses whose checked steps are all true"),
        Column("correct_with_false_step", "correct w/ false step",
               help="share of correct solo answers with a false step"),
    ]
    return [c for c in cols if c.metric in names]


def _pick(x, index):
    if isinstance(x, list):
        return x[index] if index is not None and index < len(x) else None
    return x


def fmt(est: Optional[dict], col: Column, *, signed: bool = False) -> str:
    """'54.9 [52.1, 57.3]' (percent) or '0.412 [0.40, 0.43]' (nats); '–' when missing."""
    if not est:
        return "\u2013"
    v, lo, hi = (_pick(est.get(key), col.index) for key in ("value", "low", "high"))
    if v is None:
        return "\u2013"
    scale, digits = (100.0, 1) if col.percent else (1.0, 3)
    sign = "+" if signed else ""
    body = f"{v * scale:{sign}.{digits}f}"
    if lo is not None and hi is not None:
        body += f" [{lo * scale:{sign}.{digits}f}, {hi * scale:{sign}.{digits}f}]"
    return body


def comparison_table(rows: dict[str, dict], k: int, per_seed: Optional[dict[str, dict[str, dict]]] = None) -> str:
    """``rows``: row name -> ``metrics`` mapping of a summary (or of a seed group). ``per_seed``: row name ->
    {label: metrics} of the seeds pooled in that row, shown under it in a collapsed ``<details>``."""
    cols = columns_for(rows, k)
    head = "".join(f'<th title="{html.escape(c.help)}">{html.escape(c.title)}</th>' for c in cols)
    body = ""
    for name, metrics in rows.items():
        body += f"<tr><th>{html.escape(name)}</th>{_cells(metrics, cols)}</tr>"
        seeds = (per_seed or {}).get(name)
        if seeds:
            inner = "".join(f'<tr class="seed"><th>{html.escape(label)}</th>{_cells(m, cols)}</tr>'
                            for label, m in seeds.items())
            body += (f'<tr class="seeds"><td colspan="{len(cols) + 1}"><details><summary>{html.escape(name)}: '
                     f"each seed ({html.escape(', '.join(seeds))})</summary><table class=\"results\">"
                     f"<tr><th></th>{head}</tr>{inner}</table></details></td></tr>")
    return f'<table class="results"><tr><th></th>{head}</tr>{body}</table>'


def _cells(metrics: dict, cols: list[Column]) -> str:
    return "".join(f"<td>{fmt(metrics.get(c.metric, {}).get('macro'), c)}</td>" for c in cols)


def _detect_title(est: Optional[dict], col: Column) -> str:
    """'could detect ±X (80% power); 3 seeds paired' for a difference that carries ``mdd``."""
    mdd = _pick(est.get("mdd"), col.index) if est else None
    if mdd is None:
        return ""
    scale, digits = (100.0, 1) if col.percent else (1.0, 3)
    n = est.get("n_seeds") or []
    seeds = ("1 seed: no seed variance" if max(n, default=1) <= 1 else
             f"{'x'.join(map(str, n))} seeds, {'paired' if est.get('seeds_paired') else 'unpaired'}")
    return f' title="could detect ±{mdd * scale:.{digits}f} (80% power); {seeds}"'


def differences_table(pairs: dict[str, dict], k: int, pairing: Optional[dict] = None) -> str:
    """``pairs``: 'a - b' -> {metric: estimate}; bold where the interval excludes zero. ``pairing`` (comparison.json):
    each row says whether its seeds were paired."""
    if not pairs:
        return ""
    cols = columns_for({n: {m: {"macro": e} for m, e in d.items()} for n, d in pairs.items()}, k)
    head = "".join(f"<th>{html.escape(c.title)}</th>" for c in cols)
    body = ""
    for name, diffs in pairs.items():
        cells = ""
        for c in cols:
            est = diffs.get(c.metric)
            lo, hi = (_pick(est.get(x), c.index) if est else None for x in ("low", "high"))
            strong = lo is not None and hi is not None and (lo > 0 or hi < 0)
            text = fmt(est, c, signed=True)
            cells += f"<td{_detect_title(est, c)}>{'<b>' + text + '</b>' if strong else text}</td>"
        how = (pairing or {}).get(name)
        tag = "" if how is None else (" (seeds paired)" if how.get("paired") else " (seeds unpaired)")
        body += f"<tr><th>{html.escape(name + tag)}</th>{cells}</tr>"
    return f'<table class="results"><tr><th>difference</th>{head}</tr>{body}</table>'


def benchmark_table(summaries: dict[str, dict], k: int) -> str:
    """Per benchmark and label: solo and handoff pass@k with intervals."""
    rows = ""
    for label, s in summaries.items():
        metrics = s.get("metrics", {})
        for name in sorted(n for n in metrics if n.endswith("_pass@k") and "_over_" not in n):
            for bench, est in metrics[name].get("benchmarks", {}).items():
                kk = max(1, min(k, len(est["value"])))
                col = Column(name, "", kk - 1)
                rows += (f"<tr><td>{html.escape(label)}</td><td>{html.escape(bench)}</td>"
                         f"<td>{html.escape(name.replace('@k', f'@{kk}'))}</td><td>{fmt(est, col)}</td>"
                         f"<td>{s.get('problems', {}).get(bench, '')}</td></tr>")
    if not rows:
        return ""
    return ('<table class="results"><tr><th>label</th><th>benchmark</th><th>metric</th><th>value [95% CI]</th>'
            f'<th>problems</th></tr>{rows}</table>')


def anatomy_protocols(rows: dict[str, dict]) -> list[str]:
    """Metric prefixes that carry an error anatomy: 'solo' first, then 'handoff_<schedule>'."""
    names = {n[:n.index("_error_")] for m in rows.values() for n in m if "_error_" in n}
    return sorted(names, key=lambda p: (p != "solo", p))


def anatomy_columns(prefix: str) -> list[Column]:
    """Error-anatomy columns (``eval/anatomy.py``) of one protocol: the share of its samples whose first failure is
    each kind, and under a handoff schedule the share whose first failure each author wrote."""
    from tandem_rl.eval.anatomy import KINDS

    cols = [Column(f"{prefix}_error_{kind}", kind.replace("_", " "), help=f"share of samples whose first failure "
                   f"is {kind}") for kind in KINDS]
    if prefix != "solo":
        cols += [Column(f"{prefix}_error_by_{who}", f"first error by {who}",
                        help=f"share of samples whose first failure the {who} wrote") for who in ("senior", "junior")]
    return cols


def anatomy_table(rows: dict[str, dict], pairs: dict[str, dict], prefix: str) -> str:
    """Rows (arms or labels) then paired differences (bold where the interval excludes 0) for one protocol."""
    cols = anatomy_columns(prefix)
    head = "".join(f'<th title="{html.escape(c.help)}">{html.escape(c.title)}</th>' for c in cols)
    body = "".join(f"<tr><th>{html.escape(name)}</th>"
                   + "".join(f"<td>{fmt(m.get(c.metric, {}).get('macro'), c)}</td>" for c in cols) + "</tr>"
                   for name, m in rows.items() if any(c.metric in m for c in cols))
    for name, diffs in pairs.items():
        if not any(c.metric in diffs for c in cols):
            continue
        cells = ""
        for c in cols:
            est = diffs.get(c.metric)
            strong = bool(est) and est.get("low") is not None and (est["low"] > 0 or est["high"] < 0)
            text = fmt(est, c, signed=True)
            cells += f"<td>{'<b>' + text + '</b>' if strong else text}</td>"
        body += f"<tr><th>{html.escape(name)}</th>{cells}</tr>"
    return f'<table class="results"><tr><th></th>{head}</tr>{body}</table>'
