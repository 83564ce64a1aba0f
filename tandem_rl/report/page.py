"""One self-contained HTML page: tables, figures (inline base64 PNG, also saved beside the page), transcripts.

No external scripts, styles or fonts: the page opens offline. Every string that came from a model or a data file
is escaped.

    path = build_report(["evals/demo", "runs/grpo", "runs/tandem"], out="report.html", k=4)
    # the verdict first (report/verdict.py), then per evaluation folder the arms pooled over seeds
    # report.html, report_passk_0.png, report_transfer_0.png, report_training.png
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from tandem_rl.report import cost, figures, human, tables, tradeoff, transcripts, verdict
from tandem_rl.report.sources import Sources, load_sources
from tandem_rl.world.breakdown import size_view

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
#verdict { border: 2px solid #888; padding: 0 1em; }
table.verdict td.yes { background: #dff3df; text-align: left; }
table.verdict td.no { background: #f7e3e3; text-align: left; }
table.verdict td.open { background: #f6f0d8; text-align: left; }
table.verdict th { text-align: left; }
details { margin: 1em 0; }
summary { cursor: pointer; color: #333; }
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n" if body else ""


def report_k(src: Sources, default: int = 4) -> int:
    """The primary k: ``eval.report_k`` of the first evaluation folder's ``eval_config.yaml``, else ``default``."""
    import yaml

    for ev in src.evals:
        f = ev.path / "eval_config.yaml"
        if f.is_file():
            k = ((yaml.safe_load(f.read_text()) or {}).get("eval") or {}).get("report_k")
            if isinstance(k, int) and k > 0:
                return k
    return default


def render_page(src: Sources, *, k: int | None = None, max_transcripts: int = 6) -> tuple[str, dict[str, bytes]]:
    """(HTML text, {figure name: PNG bytes}). The verdict comes first; ``k`` (default: ``eval.report_k`` of the
    evaluation, else 4) is the one k of every table, the pass@k curves show the others."""
    k = k or report_k(src)
    pngs: dict[str, bytes] = {}
    parts = ["<h1>tandem-rl report</h1>",
             '<section id="verdict"><h2>Verdict: what the data support, per setting</h2>'
             f"{verdict.verdict_html(verdict.verdict_lines(src.evals, k), k)}</section>",
             f"<p class=\"note\">Sources: "
             f"{html.escape(', '.join(str(e.path) for e in src.evals) or 'no evaluations')}; "
             f"{html.escape(', '.join(str(r.path) for r in src.runs) or 'no training runs')}. "
             "Intervals: a single label's are 95% percentile bootstrap over problems; an arm pooled over seeds and "
             "every difference have a 95% t interval over seeds and problems, seed by seed where the arms share "
             "their training seeds (docs/evaluation.md \"Statistics\"). "
             f"Accuracies are pass@{k} throughout; the pass@k curves show the other k.</p>"]
    for ev in src.evals:
        parts.append(_results_html(ev, k))
        png = figures.passk_figure(ev.summaries)
        if png:
            name = f"passk_{len(pngs)}"
            pngs[name] = png
            parts.append(_section(f"pass@k curves: {_setting_name(ev)}", _img(png, "pass@k curves")))
        parts.append(_transfer_html(ev, _arm_rows(ev), pngs))
        parts.append(_anatomy_html(ev))
        parts.append(_section(f"Cost per role (evaluation): {_setting_name(ev)}", cost.eval_cost_table(ev.summaries)))
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


def _setting_name(ev) -> str:
    """'paper's setting (partner: ...)' for a folder that names its setting, else its path."""
    name = verdict.folder_setting(ev)
    setting = next((s for s in verdict.SETTINGS if s.name == name), None)
    if setting is not None:
        return f"{setting.title.split(':')[0]} (partner: {setting.partner_text}; {ev.path})"
    return f"{ev.path}" + (f" (setting {name})" if name else "")


def _arm_rows(ev) -> dict[str, dict]:
    """Row name -> metrics: each seed group pooled over its seeds, or each label when there are no groups."""
    groups = ev.comparison.get("groups", {})
    if not groups:
        return {label: s.get("metrics", {}) for label, s in ev.summaries.items()}
    rows = {}
    for g, entry in groups.items():
        seeds = entry.get("seeds", [])
        name = g if seeds == [g] else (f"{g} (1 seed)" if len(seeds) == 1 else f"{g} (pooled over {len(seeds)} seeds)")
        rows[name] = entry.get("metrics", {})
    return rows


def _per_seed(ev) -> dict[str, dict[str, dict]]:
    """Row name (as ``_arm_rows`` names it) -> {label: metrics} of each pooled arm's seeds."""
    out = {}
    for g, entry in ev.comparison.get("groups", {}).items():
        seeds = entry.get("seeds", [])
        if len(seeds) > 1:
            out[f"{g} (pooled over {len(seeds)} seeds)"] = {lab: ev.summaries.get(lab, {}).get("metrics", {})
                                                           for lab in seeds}
    return out


def _results_html(ev, k: int) -> str:
    """Arm-level table (pooled over seeds, each arm's seeds collapsed under it), the differences of arms (seeds
    paired or not), accuracy on the problem sizes the world can teach, then per-benchmark values collapsed."""
    groups = ev.comparison.get("groups", {})
    body = tables.comparison_table(_arm_rows(ev), k, per_seed=_per_seed(ev))
    disp = ev.comparison.get("displacement")
    if disp and disp.get("metrics"):
        est = disp["metrics"]["displacement_share"]["macro"]
        col = tables.Column("displacement_share", "", None)
        body += (f"<p>Token displacement: of {disp['displaced']} positions where the "
                 f"{html.escape(disp['grpo'])} senior's top token differs from the base's, "
                 f"{html.escape(disp['tandem'])}'s top token returns to the base's in "
                 f"{tables.fmt(est, col)} % (macro over benchmarks; {disp['positions']} positions read).</p>")
    # with seed groups only differences of arms (never seed against seed); else of labels
    pairs = ev.comparison.get("group_pairs", {}) if groups else ev.comparison.get("pairs", {})
    body += _section_small("Differences (row a minus row b, same problems; hover a cell for what it could detect)",
                           tables.differences_table(pairs, k, ev.comparison.get("pairing")))
    body += _size_view_html(ev, k)
    hidden = _section_small("Per benchmark", tables.benchmark_table(ev.summaries, k))
    if hidden:
        body += f"<details><summary>Per-benchmark values</summary>{hidden}</details>"
    return _section(f"Results: {_setting_name(ev)}", body)


def _size_view_html(ev, k: int) -> str:
    """Solo accuracy on the problems with at most 3 operations (world problem files carry their sizes), with the
    ceiling they put on the overall accuracy; nothing for problems without sizes."""
    try:
        view = size_view(ev.path, ev.comparison)
    except (OSError, ValueError):  # problem files gone or changed since the evaluation: no view, the rest stands
        return ""
    if not view:
        return ""
    kk = max(1, min(k, len(next(iter(view["arms"].values()))["value"]))) if view["arms"] else k
    col = tables.Column("solo_pass@k", f"solo pass@{kk}", kk - 1)
    rows = "".join(f"<tr><th>{html.escape(arm)}</th><td>{tables.fmt(est, col)}</td><td>"
                   + html.escape(", ".join(f"{lab} {v[kk - 1] * 100:.1f}" for lab, v in view["seeds"][arm].items()))
                   + "</td></tr>" for arm, est in view["arms"].items())
    diffs = "".join(f"<tr><th>{html.escape(name)}{' (seeds paired)' if view['pairing'][name]['paired'] else ''}"
                    f"</th><td>{tables.fmt(est, col, signed=True)}</td><td>could detect "
                    f"±{est['mdd'][kk - 1] * 100:.1f}</td></tr>" for name, est in view["pairs"].items())
    note = (f'<p class="note">Solo pass@{kk} on the {view["problems"]} of {view["of"]} evaluated problems with at '
            f"most {view['max_ops']} operations (larger ones do not fit the demo's 32-token budget and no arm learns "
            f"them): the overall accuracy cannot exceed {view['ceiling']:.2f}. Intervals as above.</p>")
    return _section_small(f"Accuracy on the problem sizes the world can teach (at most {view['max_ops']} "
                          "operations)", note + f'<table class="results"><tr><th></th><th>{html.escape(col.title)}'
                          f"</th><th>per seed</th></tr>{rows}{diffs}</table>")


def _anatomy_html(ev) -> str:
    """Error anatomy: how failed samples first went wrong, per arm, and the paired differences of arms."""
    groups = ev.comparison.get("groups", {})
    pairs = ev.comparison.get("group_pairs", {}) if groups else ev.comparison.get("pairs", {})
    rows = _arm_rows(ev)
    protocols = tables.anatomy_protocols(rows)
    if not protocols:
        return ""
    note = ("<p class=\"note\">Each failed sample counts once, by its first failure read from the start: a copied "
            "value that is not the previous result, a false equation, an answer that is not the last step's result, "
            "a consistent chain that misread the problem, a wrong answer after no checkable step, or no answer "
            "(truncated or stopped). Shares of all samples, in percent; under a handoff schedule also who wrote the "
            "first error. Definitions: docs/evaluation.md \"Error anatomy\".</p>")
    table = "".join(_section_small("solo" if p == "solo" else f"handoff ({p[len('handoff_'):]})",
                                   tables.anatomy_table(rows, pairs, p)) for p in protocols)
    return _section(f"Error anatomy: {_setting_name(ev)}", note + table)


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


def build_report(paths: list[str], *, out: str | os.PathLike = "report.html", k: int | None = None,
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
