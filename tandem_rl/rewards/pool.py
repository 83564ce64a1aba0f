"""``GraderPool``: grade a batch of responses with a hard per-answer timeout, from any thread.

math-verify's own timeouts use ``signal.alarm`` and fail outside the main thread, and sympy can hang inside C code
where no signal reaches it. So: the cheap, bounded stages (extraction, string match, our
numeric parser) run right here; only answers they leave open go to worker processes (``worker.py``) running
math-verify with its timeouts off. A worker that is still busy ``timeout_s`` after it got an answer is killed and
replaced; that answer scores 0 with ``timed_out=True``. A worker that dies scores its answer 0 (``"error"``)::

    with GraderPool(workers=2, timeout_s=5.0) as pool:
        results = pool.grade([r"... \\boxed{\\frac{1}{2}}", "no answer"], ["0.5", "3"])
    [r.reward for r in results]   # [1.0, 0.0]

``workers=0`` grades in this process as far as that can be done safely and hands math-verify to a single helper
process, started on first need: a hard timeout needs a process to kill. Timeouts are measured from the moment a
worker receives the answer, so a slow worker start-up never counts against an answer.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from typing import Optional

import numpy as np

from tandem_rl.rewards.authorship import answer_author
from tandem_rl.rewards.extract import extract_answer
from tandem_rl.rewards.grader import RewardResult, quick_grade, version_problems

STARTUP_TIMEOUT_S = 120.0


class _Worker:
    """One worker subprocess and the bytes it has written so far."""

    def __init__(self, memory_limit_mb: int):
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tandem_rl.rewards.worker", str(memory_limit_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffer = b""
        self.ready = False
        self.started = time.monotonic()
        self.task: Optional[int] = None  # index being graded
        self.deadline = 0.0

    def send(self, message: dict) -> None:
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def read_lines(self) -> tuple[list[dict], bool]:
        """Complete JSON lines available now, and whether the worker has closed its end (died)."""
        try:
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return [], False
        if not chunk:
            return [], True
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(x) for x in lines if x.strip()], False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class GraderPool:
    """Grade responses against gold answers; see the module docstring.

    Args:
        workers: grader processes (0 = one helper process started on demand; see above).
        timeout_s: hard per-answer timeout for the math-verify stage, seconds.
        memory_limit_mb: address-space limit of each worker (0 = none).
        guard: reject answers that look too costly for sympy before they reach a worker (``grader.too_costly``);
            turn off only to exercise the timeout path.
    """

    def __init__(self, workers: int = 2, timeout_s: float = 5.0, *, memory_limit_mb: int = 4096, guard: bool = True):
        if workers < 0 or timeout_s <= 0:
            raise ValueError(f"GraderPool needs workers >= 0 and timeout_s > 0, got {workers}, {timeout_s}")
        self.workers, self.timeout_s, self.memory_limit_mb, self.guard = workers, timeout_s, memory_limit_mb, guard
        self._pool: list[_Worker] = []
        self._lock = threading.Lock()  # one batch at a time; callers on several threads simply queue
        self._closed = False
        self.stats = {"timeouts": 0, "restarts": 0, "math_verify_calls": 0, "max_answer_s": 0.0}
        problems = version_problems()
        if problems:
            warnings.warn("grader packages differ from the paper's pins, rewards may differ: " + "; ".join(problems))
        if workers > 0:
            self._pool = [_Worker(memory_limit_mb) for _ in range(workers)]

    @classmethod
    def from_config(cls, reward_cfg) -> "GraderPool":
        """``GraderPool.from_config(cfg.reward)``: workers, timeout and memory limit from the ``reward`` section."""
        return cls(reward_cfg.workers, reward_cfg.timeout_s, memory_limit_mb=reward_cfg.memory_limit_mb)

    def __enter__(self) -> "GraderPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        """Stop every worker (idempotent; waits for a batch in flight on another thread)."""
        with self._lock:
            self._closed = True
            for w in self._pool:
                w.kill()
            self._pool = []

    def grade(self, responses: list[str], golds: list[str], *, answer_format: str = "boxed",
              char_authors: Optional[list[np.ndarray]] = None) -> list[RewardResult]:
        """One ``RewardResult`` per response, in order. ``char_authors[i]`` (optional) holds one author per
        character of ``responses[i]`` (1 = senior, 0 = junior; see ``authorship.char_authors``)."""
        if len(responses) != len(golds):
            raise ValueError(f"{len(responses)} responses but {len(golds)} gold answers")
        if char_authors is not None:
            if len(char_authors) != len(responses):
                raise ValueError(f"{len(char_authors)} char_authors arrays but {len(responses)} responses")
            for i, (who, text) in enumerate(zip(char_authors, responses)):
                if len(who) != len(text):
                    raise ValueError(f"char_authors[{i}] has {len(who)} entries for a {len(text)}-character response")
        if self._closed:
            raise RuntimeError("GraderPool is closed")
        results: list[Optional[RewardResult]] = [None] * len(responses)
        open_items: list[tuple[int, str, str]] = []
        for i, (resp, gold) in enumerate(zip(responses, golds)):
            done, pred = quick_grade(resp, gold, answer_format, guard=self.guard)
            if done is not None:
                results[i] = done
            else:
                open_items.append((i, pred, gold))
        if open_items:
            with self._lock:
                self._run_math_verify(open_items, answer_format, results)
        if char_authors is not None:
            for i, res in enumerate(results):
                if res.extracted is not None:
                    span = extract_answer(responses[i], answer_format)
                    res.answer_author = answer_author(char_authors[i], span.start, span.end)
        return results

    def warm_up(self) -> None:
        """Block until every worker has imported math-verify (for timing; ``grade`` never needs it)."""
        with self._lock:
            self._run_math_verify([], "boxed", [], wait_ready=True)

    # -- the dispatch loop -------------------------------------------------------------------------------------

    def _replace(self, k: int) -> None:
        self._pool[k].kill()
        self._pool[k] = _Worker(self.memory_limit_mb)
        self.stats["restarts"] += 1

    def _run_math_verify(self, items, answer_format, results, wait_ready: bool = False) -> None:
        if not self._pool:
            self._pool = [_Worker(self.memory_limit_mb)]
        queue = deque(items)
        preds = {i: pred for i, pred, _ in items}
        sel = selectors.DefaultSelector()
        try:
            for k, w in enumerate(self._pool):
                sel.register(w.proc.stdout, selectors.EVENT_READ, k)
            while queue or any(w.task is not None or (wait_ready and not w.ready) for w in self._pool):
                now = time.monotonic()
                for k, w in enumerate(self._pool):  # hand out work to idle, ready workers
                    if w.ready and w.task is None and queue and w.proc.poll() is not None:
                        self._swap(sel, k)  # died while idle (killed from outside): replace it, lose nothing
                        continue
                    if w.ready and w.task is None and queue:
                        i, pred, gold = queue.popleft()
                        w.task, w.deadline = i, now + self.timeout_s
                        self.stats["math_verify_calls"] += 1
                        try:
                            w.send({"id": i, "pred": pred, "gold": gold, "fmt": answer_format})
                        except (BrokenPipeError, OSError):
                            w.deadline = now  # dead already: the deadline check below replaces it
                waits = [w.deadline for w in self._pool if w.task is not None]
                waits += [w.started + STARTUP_TIMEOUT_S for w in self._pool if not w.ready]
                wait_s = max(0.0, min(waits) - time.monotonic()) if waits else 0.05
                for key, _ in sel.select(timeout=min(wait_s, 1.0)):
                    k = key.data
                    w = self._pool[k]
                    lines, dead = w.read_lines()
                    for msg in lines:
                        if msg.get("ready"):
                            w.ready = True
                        elif w.task is not None and msg.get("id") == w.task:
                            took = time.monotonic() - (w.deadline - self.timeout_s)
                            self.stats["max_answer_s"] = max(self.stats["max_answer_s"], took)
                            results[w.task] = RewardResult(float(msg["reward"]), preds[w.task], msg["stage"])
                            w.task = None
                    if dead:
                        if not w.ready:
                            raise RuntimeError("a grader worker exited while starting; run "
                                               "`python -m tandem_rl.rewards.worker` to see why")
                        if w.task is not None:
                            results[w.task] = RewardResult(0.0, preds[w.task], "error")
                            w.task = None
                        self._swap(sel, k)
                now = time.monotonic()
                for k, w in enumerate(self._pool):
                    if w.task is not None and now > w.deadline:
                        results[w.task] = RewardResult(0.0, preds[w.task], "timeout", timed_out=True)
                        took = now - (w.deadline - self.timeout_s)
                        self.stats["max_answer_s"] = max(self.stats["max_answer_s"], took)
                        self.stats["timeouts"] += 1
                        w.task = None
                        self._swap(sel, k)
                    elif not w.ready and now > w.started + STARTUP_TIMEOUT_S:
                        raise RuntimeError("a grader worker did not start (python -m tandem_rl.rewards.worker)")
        finally:
            sel.close()

    def _swap(self, sel: selectors.BaseSelector, k: int) -> None:
        sel.unregister(self._pool[k].proc.stdout)
        self._replace(k)
        sel.register(self._pool[k].proc.stdout, selectors.EVENT_READ, k)
