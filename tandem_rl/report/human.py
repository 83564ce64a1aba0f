"""Human handoff in the report: accuracy per senior when a person took the junior's turns (``tandem-rl play``).

A play folder holds ``human.jsonl`` (``play/records.py``). Per senior label and protocol, a problem's value is the
share of its plays that were correct (a problem played by three people counts once, like a problem with three
samples in the evaluation); intervals are the evaluation's percentile bootstrap over problems (``eval/bootstrap.py``).
Beside it stands the model junior's handoff accuracy for the same label from any evaluation folder of the report
(``handoff_paragraph_pass@k`` at k = 1, the same step-by-step protocol with the frozen junior)::

    records = read_records("runs/play")
    m = human_metric(records, "tandem", "handoff_human")    # Metric: per problem, mean correctness
    bootstrap([[m]]).value                                   # e.g. 0.6

Transcripts show the senior's text and the person's in the report's two colours, escaped like every model text.
"""

from __future__ import annotations

import html
import sys
from typing import Optional

import numpy as np

from tandem_rl.eval.bootstrap import Metric, bootstrap
from tandem_rl.eval.summary import CORRECT
from tandem_rl.play.records import PLAY_FILE, PROTOCOLS, HumanRecord, load_records
from tandem_rl.report import transcripts

LEGEND = ('<p class="legend"><span class="senior">senior-written text</span> '
          '<span class="junior">person-written text</span></p>')
MODEL_HANDOFF = "handoff_paragraph_pass@k"


def human_metric(records: list[HumanRecord], label: str, protocol: str) -> Optional[Metric]:
    """Per benchmark and problem: the mean correctness of the plays of ``label`` under ``protocol``."""
    acc: dict[str, dict[str, list[float]]] = {}
    for r in records:
        if r.label == label and r.protocol == protocol:
            acc.setdefault(r.benchmark, {}).setdefault(r.problem_id, []).append(float(r.reward >= CORRECT))
    if not acc:
        return None
    return Metric.mean_of({b: np.array([np.mean(v) for v in p.values()]) for b, p in acc.items()},
                          {b: list(p) for b, p in acc.items()})


def _fmt(est: Optional[dict]) -> str:
    if not est or est.get("value") is None:
        return "-"
    pick = (lambda x: x[0] if isinstance(x, list) else x)
    v, lo, hi = pick(est["value"]), pick(est.get("low")), pick(est.get("high"))
    if v is None or v != v:
        return "-"
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else f"{v:.2f}"


def model_handoff(evals, label: str) -> Optional[dict]:
    """The model junior's step handoff pass@1 of ``label`` in the first evaluation folder that has it."""
    for ev in evals:
        est = ev.summaries.get(label, {}).get("metrics", {}).get(MODEL_HANDOFF, {}).get("macro")
        if est:
            return est
    return None


def human_table(records: list[HumanRecord], evals=(), *, resamples: int = 1000, seed: int = 0) -> str:
    labels = sorted({r.label for r in records})
    head = ("<tr><th>senior</th><th>plays</th><th>problems</th><th>participants</th>"
            "<th>human handoff</th><th>human finish</th><th>model junior handoff (step)</th>"
            "<th>senior share of characters</th><th>person seconds per turn</th></tr>")
    rows = []
    for label in labels:
        mine = [r for r in records if r.label == label]
        cells = []
        for protocol in PROTOCOLS:
            m = human_metric(records, label, protocol)
            cells.append(_fmt(bootstrap([[m]], resamples=resamples, seed=seed).to_dict()) if m else "-")
        chars = sum(len(r.author) for r in mine)
        share = sum(sum(r.author) for r in mine) / chars if chars else float("nan")
        person_s = [t["seconds"] for r in mine for t in r.turns if t.get("author") == "person"]
        cells += [_fmt(model_handoff(evals, label)), "-" if share != share else f"{share:.0%}",
                  f"{np.mean(person_s):.1f}" if person_s else "-"]
        people = len({r.participant or r.session for r in mine})
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{len(mine)}</td>"
                    f"<td>{len({(r.benchmark, r.problem_id) for r in mine})}</td><td>{people}</td>"
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="results">{head}{"".join(rows)}</table>'


def human_transcripts(records: list[HumanRecord], limit: int) -> str:
    items = [transcripts.Transcript(
        title=f"{r.label} \u00b7 {r.benchmark}/{r.problem_id} \u00b7 {r.protocol} \u00b7 "
              f"participant {r.participant or r.session[:8]}",
        segments=transcripts.merge_runs([(int(a), str(s)) for a, s in r.segments]), prompt=r.problem,
        meta={"reward": r.reward, "gold": r.gold, "extracted": r.extracted, "answer by": r.answer_author,
              "finish": r.finish_reason, "seconds": r.seconds}) for r in records[:max(limit, 0)]]
    return LEGEND + "".join(transcripts.render(t) for t in items) if items else ""


def human_html(src, max_transcripts: int = 6) -> str:
    """The report's section for every play folder of ``src`` (empty when there is none)."""
    parts = []
    for folder in getattr(src, "plays", []):
        records, skipped = load_records(folder)
        if skipped:  # null, [], a torn or mistyped line: counted and left out, never fatal
            print(f"warning: {folder}/{PLAY_FILE}: {skipped} line(s) skipped (not a play record)", file=sys.stderr)
        if not records:
            continue
        note = (f'<p class="note">{skipped} line(s) of {PLAY_FILE} were not play records and are left out.</p>'
                if skipped else "")
        parts.append(f"<h3>{html.escape(str(folder))}</h3>{note}"
                     '<p class="note">A person took the junior\'s turns (tandem-rl play, docs/play.md). Accuracy '
                     "per problem averaged over its plays, 95% bootstrap over problems; human handoff = the person "
                     "and the senior alternate steps, human finish = the person finishes from the senior's first "
                     "step(s); the model junior's column is the evaluation's step handoff pass@1 for the same "
                     "label.</p>" + human_table(records, src.evals)
                     + human_transcripts(records, max_transcripts))
    return "\n".join(parts)
