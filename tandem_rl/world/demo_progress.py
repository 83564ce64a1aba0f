"""One progress bar and time estimate for the whole ``tandem-rl demo``: every arm's training and every evaluation.

The work runs in worker processes (``--jobs``) or in this one, so the bar reads what the work writes instead of
being told: the last ``step`` of each run's ``metrics.jsonl`` and the ``summary.json`` of each evaluated label. Work
is counted in *units* of one GRPO training step of the demo (``ARM_COST`` of ``world/demo.py`` weighs the tandem
arms; an evaluation of one senior counts ``EVAL_COST`` units per partner, measured on 2 cores: docs/benchmarks.md).
The estimate is the time per unit done *in this invocation* (a resumed demo's finished work is not a rate) times
the units left, so it appears after the first finished training step and sharpens as work ends::

    parts = [Part(run / "metrics.jsonl", steps=80, cost=1.5), Part(ev / "initial" / "summary.json", cost=5.0)]
    with DemoProgress(parts):       # a thread redraws the bar every few seconds
        ...                         # train and evaluate
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tqdm.auto import tqdm

# one senior's evaluation, in GRPO-step units, per partner (world/demo.py PARTNER_METRICS): with the world junior
# the demo also scores legibility and transfer curves. Measured: docs/benchmarks.md "Where the demo's time goes".
EVAL_COST = {"base": 3.5, "junior": 5.0}


@dataclass(frozen=True)
class Part:
    """One piece of work: a training run (``steps`` > 0: its ``metrics.jsonl``) or an evaluation (``steps`` = 0:
    the ``summary.json`` it writes last)."""

    path: Path
    cost: float          # units per training step, or for the whole evaluation
    steps: int = 0

    @property
    def total(self) -> float:
        return self.cost * self.steps if self.steps else self.cost

    def done(self) -> float:
        """Units done so far, from the file on disk (0 while it does not exist or cannot be read yet)."""
        if not self.steps:
            return self.cost if self.path.is_file() else 0.0
        return self.cost * min(self.steps, last_step(self.path))


def last_step(metrics: Path) -> int:
    """The ``step`` of the last complete line of a ``metrics.jsonl`` (0 if none)::

        >>> import tempfile, os
        >>> p = Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> _ = p.write_text('{"step": 1}\\n{"step": 2}\\n{"ste')   # a line being written
        >>> last_step(p)
        2
    """
    try:
        lines = metrics.read_text().splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


class DemoProgress:
    """A context manager: a thread that redraws one bar over ``parts`` every ``interval`` seconds."""

    def __init__(self, parts: list[Part], *, enabled: bool = True, interval: Optional[float] = None):
        # a terminal redraws every 3 s; a log file (CI, nohup) gets a line every 30 s instead of a flood
        self.interval = interval if interval is not None else (3.0 if sys.stderr.isatty() else 30.0)
        self.parts, self.enabled = parts, enabled
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.bar = None

    def done(self) -> float:
        return sum(p.done() for p in self.parts)

    def total(self) -> float:
        return sum(p.total for p in self.parts)

    def estimate(self, done: float, start_done: float, elapsed: float) -> Optional[float]:
        """Seconds left at the rate of this invocation; None before its first unit."""
        if done <= start_done or elapsed <= 0:
            return None
        return (self.total() - done) * elapsed / (done - start_done)

    def __enter__(self) -> "DemoProgress":
        if not self.enabled:
            return self
        self._t0, self._start_done = time.perf_counter(), self.done()
        self.bar = tqdm(total=round(self.total(), 1), initial=round(self._start_done, 1), desc="demo",
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed{postfix}",
                        dynamic_ncols=True, position=0, leave=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.redraw()

    def redraw(self) -> None:
        done = self.done()
        left = self.estimate(done, self._start_done, time.perf_counter() - self._t0)
        self.bar.n = round(done, 1)
        self.bar.set_postfix_str(f"about {_minutes(left)} left (whole demo)" if left is not None
                                 else "estimate after the first step", refresh=False)
        self.bar.refresh()

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.bar.n = round(self.done(), 1)
            self.bar.set_postfix_str("done" if exc[0] is None else "stopped", refresh=False)
            self.bar.close()


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
