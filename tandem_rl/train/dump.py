"""``rollouts/step_NNNNNN.jsonl``: every rollout of a step with per-token authorship, for reading and the report.

One row per rollout (rows of one prompt share ``prompt_index``, its position in the step)::

    {"step": 3, "prompt_index": 0, "problem_id": "gsm-17", "prompt": "Tom has 12 apples ...",
     "tokens": ["First", ",", " compute", ...], "response_ids": [...], "author": [1, 1, 0, ...],
     "reward": 1.0, "gold": "19", "extracted": "19", "finish_reason": "eos",
     "answer_author": "senior", "solo_mix": false}

``tokens`` are the per-token decoded strings (a character split across tokens decodes as U+FFFD).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def rollout_rows(step: int, step_rollouts, problems, tokenizer, group_size: int) -> list[dict]:
    ro = step_rollouts.rollouts
    rows = []
    for i in range(len(ro)):
        g = i // group_size
        prob = problems[step_rollouts.problem_index[g]]
        ids = [int(t) for t in ro.response_ids[i]]
        res = step_rollouts.results[i]
        rows.append({
            "step": step, "prompt_index": g, "problem_id": prob.id, "prompt": prob.problem,
            "tokens": tokenizer.batch_decode([[t] for t in ids]), "response_ids": ids,
            "author": [int(a) for a in ro.author[i]], "reward": float(res.reward), "gold": prob.answer,
            "extracted": res.extracted, "finish_reason": ro.finish_reason[i],
            "answer_author": res.answer_author, "solo_mix": bool(step_rollouts.solo_row[i]),
        })
    return rows


def dump_rollouts(run_dir: Path, step: int, rows: list[dict]) -> Path:
    """Write the step's rows atomically; returns the file path."""
    folder = Path(run_dir) / "rollouts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:06d}.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
