"""One self-contained HTML page: tables, figures (inline base64 PNG, also saved beside the page), transcripts.

No external scripts, styles or fonts: the page opens offline. Every string that came from a model or a data file
is escaped.

    path = build_report(["evals/demo", "runs/grpo", "runs/tandem"], out="report.html", k=4)
    # report.html, report_passk_0.png, report_transfer_0.png, report_training.png
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from tandem_rl.report import cost, figures, human, tables, tradeoff, transcripts
from tandem_rl.report.sources import Sources, load_sources

CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1, h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table.results { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
table.results th, table.results td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
table.results th { background: #f3f3f3; }
img { max-width: 100%; }
.senior { background: #cfe3ff; }
.junior { background: #ffd9b3; }
.legend span { padding: 2px 8px; margin-right: 1em; }
.transcript { border: 1px solid #ddd; margin: 1em 0; padding: .5em 1em; }
.transcript pre { white-space: pre-wrap; word-break: break-word; font-size: 13px; }
.meta { color: #555; font-size: 12px; }
.note { color: #555; font-size: 13px; }
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n" if body else ""


def render_page(src: Sources, *, k: int = 4, max_transcripts: int = 6) -> tuple[str, dict[str, bytes]]:
    """(HTML text, {figure name: PNG bytes})."""
    pngs: dict[str, bytes] = {}
    parts = [f"<h1>tandem-rl report</h1><p class=\"note\">Sources: "
             f"{html.escape(', '.join(str(e.path) for e in src.evals) or 'no evaluations')}; "
             f"{html.escape(', '.join(str(r.path) for r in src.runs) or 'no training runs')}. "
             "Intervals: 95% percentile bootstrap over problems (seed groups: over seeds and problems).</p>"]
    for ev in src.evals:
        rows = {label: s.get("metrics", {}) for label, s in ev.summaries.items()}
        for g, entry in ev.comparison.get("groups", {}).items():
            rows[f"{g} (mean of {len(entry.get('seeds', []))} seeds)"] = entry.get("metrics", {})
        body = tables.comparison_table(rows, k)
        disp = ev.comparison.get("displacement")
        if disp and disp.get("metrics"):
            est = disp["metrics"]["displacement_share"]["macro"]
            col = tables.Column("displacement_share", "", None)
            body += (f"<p>Token displacement: of {disp['displaced']} positions where the "
                     f"{html.escape(disp['grpo'])} senior's top token differs from the base's, "
                     f"{html.escape(disp['tandem'])}'s top token returns to the base's in "
                     f"{tables.fmt(est, col)} % (macro over benchmarks; {disp['positions']} positions read).</p>")
        body += _section_small("Paired differences (row a minus row b, same problems)",
                               tables.differences_table({**ev.comparison.get("pairs", {}),
                                                         **ev.comparison.get("group_pairs", {})}, k))
        body += _section_small("Per benchmark", tables.benchmark_table(ev.summaries, k))
        parts.append(_section(f"Results: {ev.path}", body))
        png = figures.passk_figure(ev.summaries)
        if png:
            name = f"passk_{len(pngs)}"
            pngs[name] = png
            parts.append(_section("pass@k curves", _img(png, "pass@k curves")))
        parts.append(_transfer_html(ev, rows, pngs))
        parts.append(_section("Cost per role (evaluation)", cost.eval_cost_table(ev.summaries)))
        parts.append(_tradeoff_html(ev, pngs))
    if src.runs:
        png = figures.training_figure(src.runs)
        if png:
            pngs["training"] = png
            parts.append(_section("Training curves", _img(png, "training curves")))
        parts.append(_section("Cost per role per training step, and the tandem overhead over solo",
                              cost.training_cost_table(src.runs)))
    parts.append(_section("Human handoff: a person as the junior", human.human_html(src, max_transcripts)))
    parts.append(_section("Co-written transcripts", _transcripts_html(src, max_transcripts)))
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>tandem-rl report</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(p for p in parts if p) + "\n</body></html>\n")
    return page, pngs


def _transfer_html(ev, rows: dict[str, dict], pngs: dict[str, bytes]) -> str:
    """Transfer curves of every label and seed group (the grid is the first summary's ``transfer_fractions``)."""
    fractions = next((s["transfer_fractions"] for s in ev.summaries.values() if s.get("transfer_fractions")), None)
    png = figures.transfer_figure(rows, fractions) if fractions else None
    if png is None:
        return ""
    name = f"transfer_{sum(n.startswith('transfer') for n in pngs)}"
    pngs[name] = png
    note = ("<p class=\"note\">The junior alone finishes each senior solo solution from its first fraction f "
            "(f = 1: the whole reasoning, cut before the final boxed answer, so the junior still writes the answer); "
            "accuracy of the junior's continuation, macro over benchmarks, 95% bootstrap bands; AUC = area under "
            "the curve (docs/evaluation.md).</p>")
    return _section("Transfer curves", note + _img(png, "transfer curves"))


def _tradeoff_html(ev, pngs: dict[str, bytes]) -> str:
    """Solo accuracy against handoff accuracy and junior CE (one point per sweep setting, or per evaluated label
    in a plain evaluation folder), faithfulness beside it; shown when there are two points or more."""
    points = tradeoff.tradeoff_points(ev)
    png = tradeoff.tradeoff_figure(points) if len(points) > 1 else None
    if png is None:
        return ""
    name = f"tradeoff_{sum(n.startswith('tradeoff') for n in pngs)}"
    pngs[name] = png
    grid = ev.sweep.get("grid") if ev.sweep else None
    note = ("<p class=\"note\">Sweep grid: " + html.escape(", ".join(f"{k} in {v}" for k, v in grid.items()))
            + "; the initial senior is a star, vanilla GRPO a square. Up and left is better on the right panel, "
            "up and right on the left one.</p>") if grid else ""
    return _section("Trade-off: accuracy vs legibility, and faithfulness",
                    note + tradeoff.tradeoff_table(points) + _img(png, "accuracy vs legibility trade-off"))


def _section_small(title: str, body: str) -> str:
    return f"<h3>{html.escape(title)}</h3>{body}" if body else ""


def _transcripts_html(src: Sources, limit: int) -> str:
    items: list[transcripts.Transcript] = []
    for ev in src.evals:
        for label in ev.summaries:
            items += [transcripts.from_sample(r) for r in transcripts.pick_samples(ev.samples(label), 2)]
    for run in src.runs:
        rows = run.rollouts(limit=2)
        items += [t for t in (transcripts.from_rollout_row(r, run.name) for r in rows) if t is not None]
    if not items:
        return ""
    return transcripts.LEGEND + "".join(transcripts.render(t) for t in items[:max(limit, 0)])


def build_report(paths: list[str], *, out: str | os.PathLike = "report.html", k: int = 4,
                 max_transcripts: int = 6) -> Path:
    """Write the page and its PNGs (``<stem>_<figure>.png`` beside it); returns the page's path."""
    out = Path(out)
    page, pngs = render_page(load_sources(paths), k=k, max_transcripts=max_transcripts)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, png in pngs.items():
        (out.parent / f"{out.stem}_{name}.png").write_bytes(png)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
