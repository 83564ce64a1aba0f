"""Training health: rules over each step's ``metrics.jsonl`` row that say when a run is collapsing.

A collapse trains on silently otherwise: after one huge update the senior writes garbage, every rollout scores 0,
no group has any reward spread, no update is taken, and the bar only shows ``reward=0.000``. ``HealthMonitor`` is
fed the row of every step (``train/loop.py``) and only reads it: it never touches the model, the optimizer, the
RNGs or the row, so a run's numbers are the same with or without it (tests/test_train_health.py checks).

The rules are data (``RULES``); each has a documented threshold and says whether it *counts* toward a collapse.
A step where a counting rule trips is a bad step. When a rule starts tripping, one warning line goes to the
console and the bar shows ``health=<rules> xN``; ``health.json`` in the run folder summarises the run at the end.
With ``train.stop_on_collapse``, ``train.collapse_patience`` bad steps in a row stop the run (``Collapsed``; exit
status 3 from ``tandem-rl train``); checkpoints due during a bad streak are skipped, so the newest checkpoint
predates the collapse (the last step's checkpoint is still written when the run ends without collapsing).

Thresholds were set with margin from the embedded demo (docs/training.md lists the measured values): over 80
steps of each arm no rule trips, while ``train.lr=1e3`` trips ``non_finite`` at step 1 and ``no_signal``,
``reward_zero``, ``no_update`` from step 2 on::

    >>> m = HealthMonitor(patience=2, stop=True)
    >>> row = {"step": 1, "reward_mean": 0.0, "zero_std_frac": 1.0, "skipped_nan": 0, "updates": 0,
    ...        "grad_norm": None, "entropy": None}
    >>> m.observe(row, say=lambda line: None)
    ['no_signal', 'reward_zero', 'no_update']
    >>> m.postfix()
    {'health': 'no_signal,reward_zero,no_update x1'}
    >>> try:
    ...     m.observe({**row, "step": 2}, say=lambda line: None)
    ... except Collapsed as err:
    ...     print(str(err).split(";")[0])
    training collapsed: 2 bad steps in a row (steps 1-2: no_signal, reward_zero, no_update)
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from tqdm.auto import tqdm

from tandem_rl.train.checkpoint import STEP_NAME, latest_marker

HEALTH_FILE = "health.json"
GRAD_HISTORY = 20      # grad_spike compares with the median of this many previous finite norms ...
GRAD_WARMUP = 5        # ... once there are at least this many
ENTROPY_REFERENCE = 3  # entropy_collapse compares with the median entropy of the run's first 3 steps
MAX_WARNINGS = 200     # health.json keeps the first warnings only (a long collapse repeats itself)


class Collapsed(RuntimeError):
    """``train.stop_on_collapse`` stopped the run; the message names the bad steps and the last good checkpoint."""


def _num(row: dict, key: str) -> float:
    value = row.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2


@dataclass
class History:
    """What the relative rules compare with: earlier steps' finite grad norms and entropies."""

    grad_norms: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)

    def add(self, row: dict) -> None:
        g, e = _num(row, "grad_norm"), _num(row, "entropy")
        if math.isfinite(g):
            self.grad_norms = (self.grad_norms + [g])[-GRAD_HISTORY:]
        if math.isfinite(e) and len(self.entropies) < ENTROPY_REFERENCE:
            self.entropies.append(e)


@dataclass(frozen=True)
class Rule:
    name: str
    meaning: str
    threshold: float
    counts: bool  # a bad step toward train.collapse_patience (False: a warning only)
    check: Callable[[dict, History, float], Optional[str]]  # (row, history, threshold) -> what tripped, or None


def _non_finite(row, _, limit):
    n = _num(row, "skipped_nan")
    return f"{n:.0f} update(s) skipped for a non-finite loss or gradient" if n > limit else None


def _no_update(row, _, limit):
    return "no optimizer step was taken" if _num(row, "updates") <= limit else None


def _no_signal(row, _, limit):
    z = _num(row, "zero_std_frac")
    return f"zero_std_frac={z:.2f}: no group has any reward spread (no learning signal)" if z >= limit else None


def _reward_zero(row, _, limit):
    return "every rollout has reward 0" if _num(row, "reward_mean") <= limit else None


def _reward_one(row, _, limit):
    return "every rollout has reward 1 (saturated: nothing left to learn)" if _num(row, "reward_mean") >= limit \
        else None


def _grad_spike(row, hist, factor):
    g = _num(row, "grad_norm")
    if len(hist.grad_norms) < GRAD_WARMUP or not math.isfinite(g):
        return None
    ref = _median(hist.grad_norms)
    return f"grad_norm={g:.3g} is {g / ref:.0f}x the recent median {ref:.3g}" if g > factor * ref else None


def _entropy_collapse(row, hist, ratio):
    e = _num(row, "entropy")
    if len(hist.entropies) < ENTROPY_REFERENCE or not math.isfinite(e):
        return None
    ref = _median(hist.entropies)
    return f"entropy={e:.3g} is under {ratio:g} x the first steps' {ref:.3g}" if e < ratio * ref else None


RULES = (
    Rule("non_finite", "an update was skipped for a non-finite loss or gradient (skipped_nan > 0)", 0, True,
         _non_finite),
    Rule("no_signal", "every group's rewards are equal: no advantage, no gradient (zero_std_frac >= 1)", 1.0, True,
         _no_signal),
    Rule("reward_zero", "every rollout of the step has reward 0 (reward_mean <= 0)", 0.0, True, _reward_zero),
    Rule("no_update", "no optimizer step was taken in the step (updates <= 0)", 0, True, _no_update),
    Rule("grad_spike", f"the pre-clip grad norm exceeds 10x the median of the previous {GRAD_HISTORY} finite "
         f"norms (after {GRAD_WARMUP})", 10.0, True, _grad_spike),
    Rule("entropy_collapse", f"the senior-token entropy falls under 0.02x the median of the run's first "
         f"{ENTROPY_REFERENCE} steps", 0.02, True, _entropy_collapse),
    Rule("reward_one", "every rollout has reward 1 (reward_mean >= 1): saturated, a warning only", 1.0, False,
         _reward_one),
)


def _say(line: str) -> None:
    tqdm.write(line, file=sys.stderr)  # above the bar when there is one


class HealthMonitor:
    """Fed one metrics row per step; warns, counts, stops (``stop``) after ``patience`` bad steps in a row.

    ``from_config(t, run_dir, resume_step=..., main=...)`` builds it for a run; a resumed run first replays the
    kept ``metrics.jsonl`` rows (silently) so that its streaks and summary cover the whole run."""

    def __init__(self, *, patience: int = 5, stop: bool = False, run_dir: Optional[Path] = None, main: bool = True):
        self.patience, self.stop, self.run_dir, self.main = patience, stop, run_dir, main
        self.history = History()
        self.tripped = {r.name: {"steps": 0, "first_step": None, "last_step": None} for r in RULES}
        self.steps = self.bad_steps = self.streak = self.longest = 0
        self.streak_start: Optional[int] = None
        self.current: list[str] = []
        self.streak_rules: list[str] = []
        self.warnings: list[str] = []
        self.stopped_at: Optional[int] = None

    @classmethod
    def from_config(cls, t, run_dir, *, resume_step: Optional[int], main: bool) -> "HealthMonitor":
        monitor = cls(patience=t.collapse_patience, stop=t.stop_on_collapse, run_dir=Path(run_dir), main=main)
        path = Path(run_dir) / "metrics.jsonl"
        if resume_step is not None and path.is_file():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a torn line from a kill mid-write
                if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= resume_step:
                    monitor.observe(row, say=lambda _: None, replay=True)
        return monitor

    def observe(self, row: dict, *, say: Callable[[str], None] = _say, replay: bool = False) -> list[str]:
        """Check one step's row; returns the names of the rules that tripped. Raises ``Collapsed`` when stopping."""
        step = int(row["step"])
        hits = [(r, msg) for r in RULES if (msg := r.check(row, self.history, r.threshold)) is not None]
        self.history.add(row)
        self.steps += 1
        for rule, msg in hits:
            seen = self.tripped[rule.name]
            seen["steps"] += 1
            seen["first_step"] = seen["first_step"] or step
            seen["last_step"] = step
            if rule.name not in self.current:  # a rule starting to trip: one line, not one per step
                self._warn(f"warning: step {step}: health: {msg} [{rule.name}]", say)
        self.current = [r.name for r, _ in hits]
        if any(r.counts for r, _ in hits):
            self.bad_steps += 1
            self.streak += 1
            self.streak_start = self.streak_start or step
            self.streak_rules += [r.name for r, _ in hits if r.counts and r.name not in self.streak_rules]
            self.longest = max(self.longest, self.streak)
        else:
            self.streak, self.streak_start, self.streak_rules = 0, None, []
        if self.streak == self.patience:
            if self.stop and not replay:
                self.stopped_at = step
                raise Collapsed(self._stop_message(step))
            self._warn(f"warning: step {step}: health: {self.streak} bad steps in a row: the run looks collapsed "
                       f"(train.stop_on_collapse would stop it here)", say)
        return [r.name for r, _ in hits]

    def _warn(self, line: str, say) -> None:
        if self.main:
            say(line)
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(line)

    def _stop_message(self, step: int) -> str:
        good = self.last_checkpoint()
        kept = (f"the last checkpoint, from before the collapse, is {good} (nothing was saved after step "
                f"{self.streak_start - 1})" if good else "no checkpoint was saved before the collapse")
        return (f"training collapsed: {self.streak} bad steps in a row (steps {self.streak_start}-{step}: "
                f"{', '.join(self.streak_rules)}); {kept}. {HEALTH_FILE} has the details; try a lower train.lr")

    def last_checkpoint(self) -> Optional[str]:
        """The checkpoint ``latest.txt`` names (a collapse writes none after its first bad step), or None."""
        marker = latest_marker(self.run_dir) if self.run_dir is not None else None
        if marker is None or not marker.is_file():
            return None
        name = marker.read_text(errors="replace").strip()
        return str(marker.parent / name) if STEP_NAME.match(name) else None

    def may_save(self, last: bool) -> bool:
        """False while a bad streak runs and the run may stop on it, so the newest checkpoint predates a collapse
        (the last step still saves: a run that ends without collapsing keeps its final weights)."""
        return last or not (self.stop and self.streak)

    def postfix(self) -> dict:
        """For the progress bar: the rules tripping now and the bad streak (empty when the step was healthy)."""
        return {"health": f"{','.join(self.current)} x{self.streak}"} if self.current else {}

    def summary(self) -> dict:
        verdict = ("collapsed" if self.stopped_at is not None or self.longest >= self.patience
                   else "warnings" if any(v["steps"] for v in self.tripped.values()) else "healthy")
        return {"verdict": verdict, "steps": self.steps, "bad_steps": self.bad_steps,
                "longest_bad_streak": self.longest, "stop_on_collapse": self.stop, "collapse_patience": self.patience,
                "stopped_at_step": self.stopped_at, "last_checkpoint": self.last_checkpoint(),
                "rules": {r.name: {"meaning": r.meaning, "threshold": r.threshold, "counts": r.counts,
                                   **self.tripped[r.name]} for r in RULES},
                "warnings": self.warnings}

    def close(self) -> Optional[Path]:
        """Write ``health.json`` (rank 0, atomically); returns its path."""
        if not (self.main and self.run_dir is not None and self.run_dir.is_dir()):
            return None
        path = self.run_dir / HEALTH_FILE
        tmp = path.with_name(f".{HEALTH_FILE}.tmp")
        tmp.write_text(json.dumps(self.summary(), indent=1) + "\n")
        os.replace(tmp, path)
        return path
