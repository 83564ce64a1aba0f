"""The senior's side of a play: one reasoning step at a time, or a solo solution cut to its first steps.

A step is what the engine's ``paragraph`` schedule gives one turn (``cogen/schedules.py``): text up to and including
a token that ends a blank line. Here the senior writes a single turn (``max_turns=1``) after the prompt and the
co-written text so far, so a step ends exactly where it would in the evaluation's handoff::

    writer = SeniorWriter(model, tokenizer, rollout)       # rollout: the evaluation's decoding settings
    step = writer.step(prompt_ids + history_ids, seed=3)
    step.text, step.finish                                  # ' 20 minus 2 is 18 .\\n\\n', 'length' (turn over)
    writer.prefix(prompt_ids, steps=1, seed=3).text         # the first step of a solo solution, no answer

The engine wants a junior for ``paragraph``; the senior stands in for it (it never writes: the row ends after the
senior's one turn). Nothing the model writes is evaluated: it is decoded to text and shown.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

from tandem_rl.cogen.engine import CoGenerator
from tandem_rl.eval.transfer import reasoning_length, step_cuts

DECODE = dict(skip_special_tokens=True, clean_up_tokenization_spaces=False)


@dataclass
class Step:
    ids: list[int]  # without a final EOS
    text: str
    finish: str  # engine finish reason: "length" (turn or budget over), "eos", "stop"
    seconds: float


class SeniorWriter:
    def __init__(self, model, tokenizer, rollout):
        self.tokenizer = tokenizer
        self.gen = CoGenerator(model, model, tokenizer)
        self.step_rollout = dataclasses.replace(rollout, schedule="paragraph", max_turns=1)
        self.solo_rollout = dataclasses.replace(rollout, schedule="solo", max_turns=None)
        self._lock = threading.Lock()  # one generation at a time: the server answers on several threads
        self.max_positions = getattr(model.config, "max_position_embeddings", None)

    def fits(self, n_prompt: int) -> bool:
        """Whether a step of ``max_new_tokens`` still fits in the model's positions after ``n_prompt`` tokens."""
        return self.max_positions is None or n_prompt + self.step_rollout.max_new_tokens <= self.max_positions

    def _one(self, prompt: list[int], rollout, seed: int) -> Step:
        t0 = time.perf_counter()
        with self._lock:
            out = self.gen.generate([prompt], rollout, seed=seed)
        ids = [int(x) for x in out.response_ids[0]]
        if out.finish_reason[0] == "eos" and ids:
            ids = ids[:-1]
        return Step(ids, self.tokenizer.decode(ids, **DECODE), out.finish_reason[0], time.perf_counter() - t0)

    def step(self, prompt: list[int], *, seed: int) -> Step:
        """The senior's next step after ``prompt`` (the chat prompt plus the co-written text so far)."""
        return self._one(prompt, self.step_rollout, seed)

    def prefix(self, prompt: list[int], *, steps: int, seed: int) -> Step:
        """The first ``steps`` steps of a solo solution, cut before its final answer (``eval/transfer.py``)."""
        solo = self._one(prompt, self.solo_rollout, seed)
        tables = self.gen.tables()
        cuts = step_cuts(solo.ids, reasoning_length(self.tokenizer, solo.ids), tables.ends_blank_line.tolist(),
                         tables.ends_newline.tolist(), tables.is_newline.tolist())
        n = cuts[min(steps, len(cuts)) - 1] if cuts and steps > 0 else 0
        ids = solo.ids[:n]
        return Step(ids, self.tokenizer.decode(ids, **DECODE), solo.finish, solo.seconds)
