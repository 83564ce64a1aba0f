"""Co-written transcripts in two colours: the senior's text on one background, the junior's on another.

Model output is untrusted: every piece of text goes through ``html.escape`` before it reaches the page.

    t = from_rollout_row({"prompt": "2+2?", "tokens": ["Four", " is", " <b>"], "author": [1, 1, 0],
                          "reward": 1.0, "gold": "4", "step": 3}, run="tandem")
    t.segments == [(1, "Four is"), (0, " <b>")]
    render(t)   # '... <span class="senior">Four is</span><span class="junior"> &lt;b&gt;</span> ...'
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Optional

from tandem_rl.eval.records import SampleRecord

LEGEND = ('<p class="legend"><span class="senior">senior-written text</span> '
          '<span class="junior">junior-written text</span></p>')


@dataclass
class Transcript:
    title: str
    segments: list[tuple[int, str]]
    prompt: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def senior_fraction(self) -> float:
        total = sum(len(s) for _, s in self.segments)
        return sum(len(s) for a, s in self.segments if a == 1) / total if total else float("nan")


def merge_runs(pieces: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join neighbouring pieces by the same author: [(1,'a'),(1,'b'),(0,'c')] -> [(1,'ab'),(0,'c')]."""
    out: list[tuple[int, str]] = []
    for a, s in pieces:
        if out and out[-1][0] == a:
            out[-1] = (a, out[-1][1] + s)
        else:
            out.append((int(a), s))
    return out


def from_sample(r: SampleRecord) -> Transcript:
    segs = merge_runs([(int(a), str(s)) for a, s in r.segments]) if r.segments else [(1, r.text)]
    return Transcript(
        title=f"{r.label} \u00b7 {r.benchmark}/{r.problem_id} \u00b7 {r.schedule} \u00b7 sample {r.sample}",
        segments=segs,
        meta={"reward": r.reward, "gold": r.gold, "extracted": r.extracted, "answer by": r.answer_author,
              "finish": r.finish_reason})


def pick_samples(records: list[SampleRecord], limit: int) -> list[SampleRecord]:
    """Co-written samples first (one per problem, sample 0, in file order), then solo ones, ``limit`` in all."""
    co = [r for r in records if r.schedule != "solo" and r.sample == 0]
    solo = [r for r in records if r.schedule == "solo" and r.sample == 0]
    return (co + solo)[:limit]


def from_rollout_row(row: dict, run: str) -> Optional[Transcript]:
    """A trainer rollouts-dump row -> Transcript; ``None`` when its tokens and authors disagree in length."""
    tokens, author = row.get("tokens"), row.get("author")
    if not isinstance(tokens, list) or not isinstance(author, list) or len(tokens) != len(author):
        return None
    return Transcript(
        title=f"{run} \u00b7 step {row.get('step', '?')} \u00b7 prompt {row.get('prompt_index', '?')}",
        segments=merge_runs([(int(a), str(t)) for t, a in zip(tokens, author)]),
        prompt=str(row.get("prompt", "")),
        meta={"reward": row.get("reward"), "gold": row.get("gold"), "extracted": row.get("extracted"),
              "answer by": row.get("answer_author"), "finish": row.get("finish_reason")})


def render(t: Transcript) -> str:
    """One transcript as an HTML fragment; all model and data text escaped."""
    meta = " \u00b7 ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in t.meta.items()
                           if v is not None)
    frac = t.senior_fraction
    frac_txt = "" if frac != frac else f" \u00b7 senior share of characters: {frac:.0%}"
    body = "".join(f'<span class="{"senior" if a == 1 else "junior"}">{html.escape(s)}</span>'
                   for a, s in t.segments)
    prompt = (f'<details><summary>prompt</summary><pre class="prompt">{html.escape(t.prompt)}</pre></details>'
              if t.prompt else "")
    return (f'<div class="transcript"><h4>{html.escape(t.title)}</h4>'
            f'<p class="meta">{meta}{frac_txt}</p>{prompt}<pre class="text">{body}</pre></div>')
