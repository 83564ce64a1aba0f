"""The trainer's bookkeeping: per-step metrics, the update's running sums, the run's counters (no I/O).

- ``rollout_metrics``: statistics of one step's graded rollouts;
- ``UpdateStats`` (what ``update_policy`` returns) and ``UpdateSums``, its running sums over passes and ranks;
- ``Counters``: running totals over the run, saved in checkpoints;
- ``step_metrics``: the ``metrics.jsonl`` row of one step (docs/training.md lists every key).

Rollout keys:

- ``reward_mean``: mean reward over all rollouts; ``solve_rate``: share of prompts with at least one rollout
  rewarded 1 (pass@G of the step);
- ``zero_std_frac``: share of groups whose rewards are all equal (no learning signal); ``no_senior_frac``: share of
  rollouts without a single senior token (they count in their group's baseline but carry no gradient);
- ``senior_fraction``: share of response tokens written by the senior; ``author_changes``: mean author switches per
  rollout; ``response_len``: mean response tokens; ``truncated_frac``: share that hit max_new_tokens;
- ``answer_by_senior`` / ``_junior`` / ``_mixed`` / ``_none``: who wrote the graded (last boxed) answer;
- ``reward_by_senior_share/a-b``: mean reward of rollouts whose senior share lies in [a, b) (last bin closed);
- ``grade_timeouts``: answers whose grading timed out (scored 0); ``reward_solo_mix``: mean reward of the solo_mix
  members when that knob is on; ``answer_guard_zeroed``: rollouts the grader rewarded but ``grpo.senior_answer_only``
  or ``reward.reject_regex`` set to 0 (their answer was not the senior's alone, or their text matched the regex;
  ``reject_regex_matched`` / ``reject_regex_zeroed`` count the regex's part);
- cost per role (``Rollouts.cost``; sums over the step's engine calls and ranks): ``senior_tokens_written`` /
  ``junior_tokens_written`` (the authorship sums), ``senior_forward_seconds`` / ``junior_forward_seconds`` (wall
  time inside each model's forward passes; summed over ranks), ``senior_positions`` / ``junior_positions`` (token
  positions each model processed: in lockstep both process every token) and ``senior_param_tokens`` /
  ``junior_param_tokens`` (parameters x positions, a FLOP proxy);
- with ``grpo.step_checker`` (``train/credit.py``): ``first_error_by_senior`` / ``_junior`` / ``_mixed`` /
  ``first_error_unlocated``: failed rollouts by who wrote their first error (unlocated: no span, e.g. truncated);
  ``credit_rows_skipped`` / ``credit_tokens_zeroed``: what the credit designs changed.

>>> import numpy as np
>>> share_bin(0.0), share_bin(0.5), share_bin(1.0)
('0.00-0.25', '0.50-0.75', '0.75-1.00')
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from tandem_rl.train.parallel.ranks import all_max, all_sum

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
    senior = np.array(ro.senior_tokens(), dtype=np.float64)
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
    out["answer_guard_zeroed"] = int(sum(r.reward > 0 and g == 0 for r, g in zip(step_rollouts.results, rewards)))
    out.update({k: v for k, v in ro.cost().items() if k not in ("rows", "seconds")})
    return out


@dataclass
class UpdateStats:
    loss: float = 0.0             # sum over updates of the mini-batch loss, / updates
    policy_loss: float = 0.0
    kl_ref: float = 0.0           # mean k3 per senior token
    kl_junior: float = 0.0        # mean k3 per junior token (when lambda_jun > 0)
    clip_frac: float = 0.0        # share of senior tokens where the clip is active
    entropy: float = float("nan")  # mean tempered entropy on senior tokens (first epoch)
    logprob_mismatch: float = float("nan")  # mean |engine log-prob - recomputed old log-prob| on senior tokens
    grad_norm: float = float("nan")  # mean pre-clip gradient norm over the updates taken
    updates: int = 0              # optimizer steps taken
    empty_updates: int = 0        # mini-batches with no row able to carry gradient (no step taken)
    nan_skips: int = 0            # updates skipped for a non-finite loss or gradient
    trained_rows: int = 0         # rows forwarded with gradient (first epoch)
    tokens: int = 0               # real tokens forwarded (all passes)
    seconds: float = 0.0


@dataclass
class UpdateSums:
    """Running sums of one ``update_policy`` call on this rank; ``stats`` adds them over ranks into means."""

    policy: float = 0.0         # policy-loss shares of every pass
    kl_ref: float = 0.0         # k3 sums on senior tokens
    kl_junior: float = 0.0      # k3 sums on junior tokens
    clipped: float = 0.0        # senior tokens where the clip is active
    senior_tokens: float = 0.0
    junior_tokens: float = 0.0
    entropy: float = 0.0        # first epoch only, as the next two
    entropy_n: int = 0
    mismatch: float = 0.0
    mismatch_n: int = 0
    tokens: int = 0             # real tokens forwarded (no-grad passes too)
    trained_rows: int = 0
    loss: float = 0.0           # of the updates taken (each a mini-batch's global loss; equal on all ranks)
    grad_norm: float = 0.0      # of the updates taken (global norms: equal on all ranks)
    updates: int = 0
    empty_updates: int = 0
    nan_skips: int = 0

    def add_pass(self, parts, junior_tokens: float, tokens: int) -> None:
        """One gradient pass: its ``grpo_loss`` parts and token counts."""
        self.policy += float(parts.policy)
        self.kl_ref += float(parts.kl_ref_sum)
        self.kl_junior += float(parts.kl_junior_sum)
        self.clipped += float(parts.clipped)
        self.senior_tokens += float(parts.tokens)
        self.junior_tokens += junior_tokens
        self.tokens += tokens

    def add_first_epoch(self, rows: int, entropy: float, entropy_n: int, mismatch: float, mismatch_n: int) -> None:
        self.trained_rows += rows
        self.entropy += entropy
        self.entropy_n += entropy_n
        self.mismatch += mismatch
        self.mismatch_n += mismatch_n

    def add_update(self, loss: float, grad_norm: float) -> None:
        self.updates += 1
        self.loss += loss
        self.grad_norm += grad_norm

    def stats(self, started: float) -> UpdateStats:
        """Sums over ranks (losses are shares of global means: they add up too), then means (a collective)."""
        keys = ("policy", "kl_ref", "kl_junior", "clipped", "senior_tokens", "junior_tokens", "entropy", "entropy_n",
                "mismatch", "mismatch_n")
        totals = dict(zip(keys + ("tokens", "trained_rows"),
                          all_sum([float(getattr(self, k)) for k in keys] + [float(self.tokens),
                                                                              float(self.trained_rows)])))
        loss, = all_sum([self.loss])
        k = max(self.updates, 1)
        return UpdateStats(
            loss=loss / k, policy_loss=totals["policy"] / max(self.updates + self.nan_skips, 1),
            kl_ref=totals["kl_ref"] / max(totals["senior_tokens"], 1.0),
            kl_junior=totals["kl_junior"] / max(totals["junior_tokens"], 1.0),
            clip_frac=totals["clipped"] / max(totals["senior_tokens"], 1.0),
            entropy=totals["entropy"] / totals["entropy_n"] if totals["entropy_n"] else float("nan"),
            logprob_mismatch=totals["mismatch"] / totals["mismatch_n"] if totals["mismatch_n"] else float("nan"),
            grad_norm=self.grad_norm / k if self.updates else float("nan"), updates=self.updates,
            empty_updates=self.empty_updates, nan_skips=self.nan_skips, trained_rows=int(totals["trained_rows"]),
            tokens=int(totals["tokens"]), seconds=all_max([time.perf_counter() - started])[0])


@dataclass
class Counters:
    """Running totals over the run, saved in checkpoints (``trainer_state.pt``: ``counters``)."""

    nan_skips: int = 0
    zero_std_groups: int = 0
    no_senior_rows: int = 0
    empty_updates: int = 0
    rollouts: int = 0
    rollout_tokens: int = 0

    def add(self, step_rollouts, zero_std: np.ndarray, us: UpdateStats) -> None:
        """Count one step (its whole graded batch and the update's stats)."""
        ro = step_rollouts.rollouts
        self.nan_skips += us.nan_skips
        self.zero_std_groups += int(zero_std.sum())
        self.no_senior_rows += no_senior_rows(ro)
        self.empty_updates += us.empty_updates
        self.rollouts += len(ro)
        self.rollout_tokens += response_tokens(ro)


def no_senior_rows(rollouts) -> int:
    """Rollouts without a single senior token (in their group's baseline, but no gradient)."""
    return sum(n == 0 for n in rollouts.senior_tokens())


def response_tokens(rollouts) -> int:
    return int(sum(len(r) for r in rollouts.response_ids))


def step_metrics(step: int, *, lr: float, p: float, data_position: int, step_rollouts, zero_std: np.ndarray,
                 group_size: int, us: UpdateStats, counters: Counters, prompts_skipped_too_long: int) -> dict:
    """One step's ``metrics.jsonl`` row (without ``eval_solo_acc`` and ``step_seconds``, which the loop adds)."""
    sr, gen_tokens = step_rollouts, response_tokens(step_rollouts.rollouts)
    return {
        "step": step, "lr": lr, "p": p, "data_position": data_position,
        **rollout_metrics(sr, zero_std, group_size),
        "loss": us.loss, "policy_loss": us.policy_loss, "clip_frac": us.clip_frac, "entropy": us.entropy,
        "kl_ref": us.kl_ref, "kl_junior": us.kl_junior, "grad_norm": us.grad_norm,
        "logprob_mismatch": us.logprob_mismatch, "updates": us.updates,
        "skipped_nan": us.nan_skips, "skipped_nan_total": counters.nan_skips,
        "skipped_empty_updates": us.empty_updates, "zero_std_groups": int(zero_std.sum()),
        "no_senior_rows": no_senior_rows(sr.rollouts), "trained_rows": us.trained_rows,
        "prompts_skipped_too_long": prompts_skipped_too_long,
        "rollout_tokens": gen_tokens, "rollout_tokens_per_s": gen_tokens / max(sr.gen_seconds, 1e-9),
        "update_tokens_per_s": us.tokens / max(us.seconds, 1e-9), "grade_seconds": sr.grade_seconds,
        "update_seconds": us.seconds, "rollout_seconds": sr.gen_seconds,
        # a junior with its own tokenizer: senior tokens left out of the loss for holding junior text, and handoffs
        **{k: int(sr.rollouts.stats[k]) for k in ("mixed_tokens", "healed") if k in sr.rollouts.stats},
        # grpo.step_checker: failed rollouts by who wrote their first error, and what the credit options changed
        **(sr.credit_counts or {}),
    }
