"""A handoff study: sessions, blind balanced assignment of seniors, the turns of one problem, limits, records.

Protocols (``records.PROTOCOLS``):
- ``handoff_human``: the senior writes the first step, then the person and the senior alternate one step each
  (the evaluation's ``paragraph`` handoff with a person as the junior) until a ``\\boxed{}`` answer, the senior's
  EOS, or ``max_turns`` turns;
- ``finish_human``: the person sees the first ``finish_steps`` steps of the senior's solo solution (cut before any
  answer, as the transfer curves cut them, ``eval/transfer.py``) and writes the rest in one turn.

Each new problem of any session takes the next (senior, protocol) pair of a seeded sequence made of shuffled blocks
that hold every pair once, so the seniors stay balanced and the page never learns which one is writing::

    >>> assignments(["a", "b"], ["handoff_human"], seed=0, n=4)
    [('a', 'handoff_human'), ('b', 'handoff_human'), ('a', 'handoff_human'), ('b', 'handoff_human')]

Input from the page is untrusted: ``person_turn`` refuses text over ``max_chars`` and text left empty by
``clean_step`` (spaces of every kind become spaces; controls and zero-width characters are dropped); text is stored
and shown as text only. A person's step ends with a blank line (added when missing) so that the senior sees a step
boundary; a step that holds a boxed answer ends the problem.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

from tandem_rl.play.records import PROTOCOLS, HumanRecord, append_record
from tandem_rl.rewards.extract import extract_answer

MAX_CHARS = 2000
MAX_PARTICIPANT = 64
MAX_SESSIONS = 1000


class PlayError(ValueError):
    """A request the study refuses; the message is shown to the person as text."""


def clean_step(text: str) -> str:
    """A person's step as stored: every kind of space (no-break, ideographic, ...) becomes a space, line and
    paragraph separators a newline; other controls and invisible characters (``\\r``, zero-width) are dropped.

    >>> clean_step("5\\u00a0000\\u3000+\\u00a03\\r\\n\\u200b")
    '5 000 + 3\\n'
    """
    out = []
    for c in text:
        kind = unicodedata.category(c)
        if c in "\n\t" or c.isprintable():
            out.append(c)
        elif kind == "Zs":
            out.append(" ")
        elif kind in ("Zl", "Zp"):
            out.append("\n")
    return "".join(out)


def assignments(labels: list[str], protocols: list[str], *, seed: int, n: int) -> list[tuple[str, str]]:
    """The first ``n`` (label, protocol) pairs: blocks holding every pair once, each shuffled by ``seed``."""
    rng, out = random.Random(seed), []
    while len(out) < n:
        block = [(a, p) for a in labels for p in protocols]
        rng.shuffle(block)
        out += block
    return out[:n]


@dataclass
class Turn:
    author: str  # "senior" | "person"
    text: str
    ids: list[int]
    seconds: float


@dataclass
class Game:
    """One problem being played in one session."""

    label: str
    protocol: str
    problem: object  # data.problem.Problem
    prompt_ids: list[int]
    seed: int
    turns: list[Turn] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    shown: float = field(default_factory=time.time)  # when the person's turn began (the senior's step was ready)
    finish: Optional[str] = None
    record: Optional[HumanRecord] = None

    def history_ids(self) -> list[int]:
        return [t for turn in self.turns for t in turn.ids]

    def text(self) -> str:
        return "".join(t.text for t in self.turns)


@dataclass
class Session:
    id: str
    participant: Optional[str]
    order: list[int]  # problem indices, in this session's order
    played: int = 0
    game: Optional[Game] = None


class Study:
    """Everything the server needs, without HTTP. ``seniors``: label -> ``SeniorWriter``; ``problems`` and
    ``prompt_ids`` in the same order; ``pool``: a ``rewards.pool.GraderPool``; records go to ``out``."""

    def __init__(self, seniors: dict, tokenizer, problems: list, prompt_ids: list[list[int]], pool, out, *,
                 benchmark: str, protocols: tuple[str, ...] = ("handoff_human",), max_turns: int = 12,
                 finish_steps: int = 1, answer_format: str = "boxed", seed: int = 0, max_chars: int = MAX_CHARS):
        if not seniors:
            raise ValueError("play: give at least one senior")
        bad = [p for p in protocols if p not in PROTOCOLS]
        if bad or not protocols:
            raise ValueError(f"play: protocols {list(protocols)} must be among {PROTOCOLS}")
        if max_turns < 2:
            raise ValueError(f"play: max_turns must be >= 2, got {max_turns}")
        self.seniors, self.tokenizer, self.pool, self.out = seniors, tokenizer, pool, out
        self.problems, self.prompt_ids, self.benchmark = problems, prompt_ids, benchmark
        self.protocols, self.max_turns, self.finish_steps = tuple(protocols), max_turns, finish_steps
        self.answer_format, self.seed, self.max_chars = answer_format, seed, max_chars
        self.sessions: dict[str, Session] = {}
        self._assigned = 0
        # One request at a time changes the study (sessions, the assignment, the records file); generation is
        # serialised anyway (one model per senior), so this costs nothing and rules out two tabs racing.
        self._lock = threading.RLock()

    # -- sessions -------------------------------------------------------------------------------------------------
    def new_session(self, participant: Optional[str] = None) -> str:
        participant = (participant.strip() or None) if isinstance(participant, str) else None
        if participant is not None and (len(participant) > MAX_PARTICIPANT
                                        or not all(c.isalnum() or c in "-_." for c in participant)):
            raise PlayError(f"a participant id is at most {MAX_PARTICIPANT} letters, digits, '-', '_' or '.'")
        with self._lock:
            if len(self.sessions) >= MAX_SESSIONS:
                raise PlayError("too many sessions on this server; restart it")
            sid = secrets.token_hex(8)
            order = list(range(len(self.problems)))
            random.Random(f"{self.seed}:{len(self.sessions)}").shuffle(order)
            self.sessions[sid] = Session(sid, participant, order)
        return sid

    def _session(self, sid) -> Session:
        s = self.sessions.get(sid) if isinstance(sid, str) else None
        if s is None:
            raise PlayError("unknown session; reload the page")
        return s

    # -- one problem ----------------------------------------------------------------------------------------------
    def next_problem(self, sid) -> dict:
        """Start the session's next problem (or return the one in progress)."""
        with self._lock:
            return self._next_problem(sid)

    def _next_problem(self, sid) -> dict:
        s = self._session(sid)
        if s.game is not None and s.game.finish is None:
            return self.state(s)
        if s.played >= len(s.order):
            s.game = None
            return {"finished_all": True, "played": s.played}
        label, protocol = assignments(list(self.seniors), list(self.protocols), seed=self.seed,
                                      n=self._assigned + 1)[-1]
        self._assigned += 1
        seed = self.seed * 1000003 + self._assigned
        i = s.order[s.played]
        game = Game(label, protocol, self.problems[i], self.prompt_ids[i], seed)
        writer = self.seniors[label]
        if protocol == "handoff_human":
            step = writer.step(game.prompt_ids, seed=seed)
            game.turns.append(Turn("senior", step.text, step.ids, step.seconds))
            self._after_senior(game, step.finish)
        else:
            step = writer.prefix(game.prompt_ids, steps=self.finish_steps, seed=seed)
            game.turns.append(Turn("senior", step.text, step.ids, step.seconds))
        game.shown = time.time()  # the person's clock starts when the senior's turn is ready (not on page fetches)
        s.game = game
        if game.finish is not None:
            self._record(s)
        return self.state(s)

    def person_turn(self, sid, text) -> dict:
        """The person's step; then the senior's next one, unless the problem has ended."""
        with self._lock:
            return self._person_turn(sid, text)

    def _person_turn(self, sid, text) -> dict:
        s = self._session(sid)
        game = s.game
        if game is None or game.finish is not None:
            raise PlayError("no problem in progress; press 'Next problem'")
        if not isinstance(text, str):
            raise PlayError("write a step first")
        if len(text) > self.max_chars:
            raise PlayError(f"a step is at most {self.max_chars} characters (this one has {len(text)})")
        text = clean_step(text)
        if not text.strip():  # after cleaning: a step of controls or zero-width characters is empty too
            raise PlayError("write a step first")
        has_answer = extract_answer(text, self.answer_format) is not None
        text = text.rstrip() if has_answer else text.rstrip() + "\n\n"
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        writer = self.seniors[game.label]
        if game.protocol == "handoff_human" and not has_answer and len(game.turns) + 1 < self.max_turns and \
                not writer.fits(len(game.prompt_ids) + len(game.history_ids()) + len(ids)):
            raise PlayError("this step is too long for the model to continue after it: shorten it, or finish "
                            "with the answer in \\boxed{...}")
        game.turns.append(Turn("person", text, ids, time.time() - game.shown))
        if has_answer or game.protocol == "finish_human":
            game.finish = "answer" if has_answer else "no_answer"
        elif len(game.turns) >= self.max_turns:
            game.finish = "turn_limit"
        else:
            step = writer.step(game.prompt_ids + game.history_ids(), seed=game.seed + len(game.turns))
            game.turns.append(Turn("senior", step.text, step.ids, step.seconds))
            self._after_senior(game, step.finish)
            game.shown = time.time()
        if game.finish is not None:
            self._record(s)
        return self.state(s)

    def _after_senior(self, game: Game, finish: str) -> None:
        if extract_answer(game.turns[-1].text, self.answer_format) is not None:
            game.finish = "answer"
        elif finish == "eos":
            game.finish = "eos"
        elif len(game.turns) >= self.max_turns:
            game.finish = "turn_limit"
        elif not self.seniors[game.label].fits(len(game.prompt_ids) + len(game.history_ids()) + 2):
            game.finish = "context_full"  # a person's shortest step and the senior's next would not fit

    def _record(self, s: Session) -> None:
        game = s.game
        text = game.text()
        author = [1 if t.author == "senior" else 0 for t in game.turns for _ in t.text]
        res = self.pool.grade([text], [game.problem.answer], answer_format=self.answer_format,
                              char_authors=[author])[0]
        segments: list[list] = []
        for t in game.turns:
            a = 1 if t.author == "senior" else 0
            if segments and segments[-1][0] == a:
                segments[-1][1] += t.text
            elif t.text:
                segments.append([a, t.text])
        game.record = HumanRecord(
            label=game.label, protocol=game.protocol, benchmark=self.benchmark, problem_id=game.problem.id,
            problem=game.problem.problem, gold=game.problem.answer, text=text, author=author, segments=segments,
            turns=[{"author": t.author, "chars": len(t.text), "seconds": round(t.seconds, 3)} for t in game.turns],
            reward=float(res.reward), extracted=res.extracted,
            answer_author={"junior": "person"}.get(res.answer_author, res.answer_author), finish_reason=game.finish,
            seconds=round(time.time() - game.started, 3), session=s.id, participant=s.participant,
            started_at=datetime.fromtimestamp(game.started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            seed=game.seed)
        append_record(self.out, game.record)
        s.played += 1

    def state(self, s: Session) -> dict:
        """What the page shows: the problem and the turns (never the senior's label)."""
        game = s.game
        out = {"problem": game.problem.problem, "protocol": game.protocol, "max_chars": self.max_chars,
               "turns": [{"author": t.author, "text": t.text} for t in game.turns], "done": game.finish is not None,
               "played": s.played, "total": len(s.order), "turns_left": max(self.max_turns - len(game.turns), 0)}
        if game.record is not None:
            out.update(correct=game.record.reward >= 0.5, gold=game.problem.answer, finish=game.finish)
        return out
