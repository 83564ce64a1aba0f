"""Schedules: who writes the next token, decided from the history alone (never from the sampled candidates).

Each schedule is a small pure function of the state, the token just emitted and fresh coins; all rows at once,
on device. ``state.senior[i]`` says who writes row ``i``'s *next* token (True = senior). ``SCHEDULES`` holds one
``Schedule`` record per name (which models run, coins, the turn limit, the step function): the engine asks the
record and never tests a schedule's name. The rules:

- ``solo``: the senior writes every token (the junior is not run). Vanilla GRPO.
- ``junior``: the junior writes every token (the senior is not run).
- ``word`` (the paper's training schedule): the first author ~ Bernoulli(p) (True = senior). After each emitted
  token, the author is *redrawn* from a fresh Bernoulli(p) (not a forced switch) if that token is word-initial
  (``TokenTables.word_start``) or if ``redraw_cap`` (K) tokens have been emitted since the last redraw; the
  counter resets on a redraw. So the token after a word-initial token may come from either model.
- ``token``: every token's author is a fresh Bernoulli(p).
- ``paragraph`` (the reasoning-step handoff of the evaluation): the senior writes first; after each token that
  ends a blank line the author switches (strict alternation). A token ends a blank line if its text ends with
  ``"\\n\\n"``, or it is exactly ``"\\n"`` and the previous token's text ends with ``"\\n"``. Each switch completes
  a turn; after ``max_turns`` completed turns the row ends (finish_reason ``"length"``).
- ``chunk``: the senior writes the first ``chunk_size`` tokens, the junior the next ``chunk_size``, and so on.

Worked example (``word``, K = 3, coins for the redraws: senior, junior, junior)::

    tokens:      "The"  " cat"  "s"  "x"  "y"  "z"  "w"
    word start:   no     yes    no   no   no   no   no
    author:       S      S      J    J    J    J    J        (first author S; redraw after " cat" -> J;
    since:        1      0      1    2    0    1    2         redraw after "y" (3 since the last) -> J)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Optional

import torch

from tandem_rl.cogen.vocab import TokenTables


@dataclass
class ScheduleState:
    """Per-row schedule state, all [B] tensors on one device.

    Attributes:
        senior: bool, True if the senior writes the next token.
        since: long, tokens emitted since the last redraw (word) or since the turn began (chunk, paragraph).
        turns: long, completed turns (paragraph).
        prev_newline: bool, the previous token's text ended with "\\n" (paragraph).
        redraws: long, how many redraws happened after the first author was drawn (word, token).
    """

    senior: torch.Tensor
    since: torch.Tensor
    turns: torch.Tensor
    prev_newline: torch.Tensor
    redraws: torch.Tensor

    def select(self, rows: torch.Tensor) -> "ScheduleState":
        """Keep only ``rows`` (used when finished rows are dropped from the batch)."""
        return ScheduleState(*(getattr(self, f.name)[rows] for f in fields(self)))


def word_step(state: ScheduleState, token: torch.Tensor, word_start: torch.Tensor, coins: torch.Tensor,
              p: float, redraw_cap: int) -> ScheduleState:
    """``word``: redraw after a word-initial token or after ``redraw_cap`` tokens without a redraw."""
    since = state.since + 1
    redraw = word_start[token] | (since >= redraw_cap)
    return ScheduleState(
        senior=torch.where(redraw, coins < p, state.senior),
        since=torch.where(redraw, 0, since),
        turns=state.turns, prev_newline=state.prev_newline,
        redraws=state.redraws + redraw.long(),
    )


def token_step(state: ScheduleState, coins: torch.Tensor, p: float) -> ScheduleState:
    """``token``: a fresh Bernoulli(p) author for every token."""
    return ScheduleState(coins < p, state.since + 1, state.turns, state.prev_newline, state.redraws + 1)


def paragraph_step(state: ScheduleState, token: torch.Tensor, tables: TokenTables) -> ScheduleState:
    """``paragraph``: switch author after each token that ends a blank line; count completed turns."""
    ends = tables.ends_blank_line[token] | (tables.is_newline[token] & state.prev_newline)
    return ScheduleState(
        senior=state.senior ^ ends,
        since=torch.where(ends, 0, state.since + 1),
        turns=state.turns + ends.long(),
        prev_newline=tables.ends_newline[token],
        redraws=state.redraws,
    )


def chunk_step(state: ScheduleState, chunk_size: int) -> ScheduleState:
    """``chunk``: switch author every ``chunk_size`` tokens."""
    since = state.since + 1
    switch = since >= chunk_size
    return ScheduleState(state.senior ^ switch, torch.where(switch, 0, since), state.turns + switch.long(),
                         state.prev_newline, state.redraws)


@dataclass(frozen=True)
class Schedule:
    """What one schedule means to the engine, which asks these fields instead of testing the schedule's name.

    Attributes:
        name: the ``rollout.schedule`` value.
        senior_runs / junior_runs: whether each model is run (and may write); a schedule that runs one model only
            gives every token to it.
        coins: the first author and every redraw are Bernoulli(p) coins (else the first author is the senior,
            or the junior when the senior does not run).
        turn_limit: ``rollout.max_turns`` ends a row after that many completed turns.
        step: ``step(state, token, tables, coins, p, redraw_cap, chunk_size)`` -> the state after ``token``;
            None: the author never changes.
    """

    name: str
    senior_runs: bool = True
    junior_runs: bool = True
    coins: bool = False
    turn_limit: bool = False
    step: Optional[Callable[..., ScheduleState]] = None

    @property
    def cowrites(self) -> bool:
        """Both models write (a tandem schedule)."""
        return self.senior_runs and self.junior_runs

    def initial(self, coins: torch.Tensor, p: float) -> ScheduleState:
        """State before the first response token. ``coins`` [B] uniform in [0, 1); senior if ``coin < p``."""
        b, dev = coins.shape[0], coins.device
        senior = coins < p if self.coins else torch.full((b,), self.senior_runs, dtype=torch.bool, device=dev)
        zeros = torch.zeros(b, dtype=torch.long, device=dev)
        return ScheduleState(senior, zeros, zeros.clone(), torch.zeros(b, dtype=torch.bool, device=dev), zeros.clone())

    def advance(self, state: ScheduleState, token: torch.Tensor, tables: TokenTables, coins: Optional[torch.Tensor],
                *, p: float, redraw_cap: int, chunk_size: int) -> ScheduleState:
        """The state after emitting ``token`` [B]; ``coins`` [B] uniform (read by coin schedules only)."""
        if self.step is None:
            return state
        return self.step(state, token, tables, coins, p, redraw_cap, chunk_size)


SCHEDULES = {s.name: s for s in (
    Schedule("solo", junior_runs=False),
    Schedule("junior", senior_runs=False),
    Schedule("word", coins=True, step=lambda st, tok, tables, coins, p, cap, size:
             word_step(st, tok, tables.word_start, coins, p, cap)),
    Schedule("token", coins=True, step=lambda st, tok, tables, coins, p, cap, size: token_step(st, coins, p)),
    Schedule("paragraph", turn_limit=True, step=lambda st, tok, tables, coins, p, cap, size:
             paragraph_step(st, tok, tables)),
    Schedule("chunk", step=lambda st, tok, tables, coins, p, cap, size: chunk_step(st, size)),
)}


def get(name: str) -> Schedule:
    """The schedule called ``name``; ``ValueError`` naming the choices otherwise."""
    if name not in SCHEDULES:
        raise ValueError(f"rollout.schedule {name!r} is not one of {tuple(SCHEDULES)}")
    return SCHEDULES[name]


def initial_state(name: str, coins: torch.Tensor, p: float) -> ScheduleState:
    """``get(name).initial(coins, p)``: the state before the first response token."""
    return get(name).initial(coins, p)


def advance(name: str, state: ScheduleState, token: torch.Tensor, tables: TokenTables,
            coins: Optional[torch.Tensor], *, p: float, redraw_cap: int, chunk_size: int) -> ScheduleState:
    """``get(name).advance(...)``: the state after emitting ``token`` [B]."""
    return get(name).advance(state, token, tables, coins, p=p, redraw_cap=redraw_cap, chunk_size=chunk_size)
