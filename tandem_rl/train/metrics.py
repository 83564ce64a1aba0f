"""Per-step statistics of the rollouts (pure functions of the graded batch; no I/O).

Keys written each step (see docs/training.md for the full list with the update and throughput keys):

- ``reward_mean``: mean reward over all rollouts; ``solve_rate``: share of prompts with at least one rollout
  rewarded 1 (pass@G of the step);
- ``zero_std_frac``: share of groups whose rewards are all equal (no learning signal); ``no_senior_frac``: share of
  rollouts without a single senior token (they count in their group's baseline but carry no gradient);
- ``senior_fraction``: share of response tokens written by the senior; ``author_changes``: mean author switches per
  rollout; ``response_len``: mean response tokens; ``truncated_frac``: share that hit max_new_tokens;
- ``answer_by_senior`` / ``_junior`` / ``_mixed`` / ``_none``: who wrote the graded (last boxed) answer;
- ``reward_by_senior_share/a-b``: mean reward of rollouts whose senior share lies in [a, b) (last bin closed);
- ``grade_timeouts``: answers whose grading timed out (scored 0); ``reward_solo_mix``: mean reward of the solo_mix
  members when that knob is on.

>>> import numpy as np
>>> share_bin(0.0), share_bin(0.5), share_bin(1.0)
('0.00-0.25', '0.50-0.75', '0.75-1.00')
"""

from __future__ import annotations

import numpy as np

from tandem_rl.cogen.rollouts import SENIOR

SHARE_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)
AUTHORS = ("senior", "junior", "mixed")


def share_bin(share: float) -> str:
    for lo, hi in zip(SHARE_BINS[:-1], SHARE_BINS[1:]):
        if lo <= share < hi or (hi == SHARE_BINS[-1] and share == hi):
            return f"{lo:.2f}-{hi:.2f}"
    raise ValueError(f"senior share {share} outside [0, 1]")


def rollout_metrics(step_rollouts, zero_std: np.ndarray, group_size: int) -> dict:
    """Reward, authorship and answer-authorship statistics of one step's graded rollouts."""
    ro, rewards = step_rollouts.rollouts, step_rollouts.rewards
    n = len(ro)
    lengths = np.array([len(r) for r in ro.response_ids], dtype=np.float64)
    senior = np.array([int((a == SENIOR).sum()) for a in ro.author], dtype=np.float64)
    groups = rewards.reshape(-1, group_size)
    out = {
        "reward_mean": float(rewards.mean()) if n else float("nan"),
        "solve_rate": float((groups.max(axis=1) >= 1.0).mean()) if n else float("nan"),
        "zero_std_frac": float(np.mean(zero_std)) if len(zero_std) else float("nan"),
        "no_senior_frac": float(np.mean(senior == 0)) if n else float("nan"),
        "senior_fraction": float(senior.sum() / max(lengths.sum(), 1.0)),
        "author_changes": float(np.mean(ro.author_changes())) if n else float("nan"),
        "response_len": float(lengths.mean()) if n else float("nan"),
        "truncated_frac": float(np.mean([f == "length" for f in ro.finish_reason])) if n else float("nan"),
        "grade_timeouts": int(sum(bool(r.timed_out) for r in step_rollouts.results)),
    }
    who = [r.answer_author for r in step_rollouts.results]
    for name in AUTHORS:
        out[f"answer_by_{name}"] = float(np.mean([w == name for w in who])) if n else float("nan")
    out["answer_by_none"] = float(np.mean([w is None for w in who])) if n else float("nan")
    shares = senior / np.maximum(lengths, 1.0)
    bins: dict[str, list[float]] = {}
    for s, r, length in zip(shares, rewards, lengths):
        if length:
            bins.setdefault(share_bin(float(s)), []).append(float(r))
    for key in sorted(bins):
        out[f"reward_by_senior_share/{key}"] = float(np.mean(bins[key]))
    if step_rollouts.solo_row.any():
        out["reward_solo_mix"] = float(rewards[step_rollouts.solo_row].mean())
    return out
