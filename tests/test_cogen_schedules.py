"""Schedule rules, checked against plain-Python reference implementations written from the docstring's rules."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_rl.cogen import schedules as S
from tandem_rl.cogen.vocab import TokenTables

# A toy vocabulary of 6 tokens: texts "a", " b", "\n", "x\n\n", ".\n", " c"
TEXTS = ["a", " b", "\n", "x\n\n", ".\n", " c"]
TABLES = TokenTables(
    word_start=torch.tensor([t.startswith(" ") for t in TEXTS]),
    ends_blank_line=torch.tensor([t.endswith("\n\n") for t in TEXTS]),
    ends_newline=torch.tensor([t.endswith("\n") for t in TEXTS]),
    is_newline=torch.tensor([t == "\n" for t in TEXTS]),
)
KW = dict(p=0.5, redraw_cap=32, chunk_size=4)


def run(name, tokens, coins, **kw):
    """Drive a schedule over one row; coins[0] draws the first author, coins[t+1] is offered after token t."""
    kw = {**KW, **kw}
    state = S.initial_state(name, torch.tensor([coins[0]]), kw["p"])
    authors, redraws = [], []
    for t, tok in enumerate(tokens):
        authors.append(bool(state.senior[0]))
        before = int(state.redraws[0])
        state = S.advance(name, state, torch.tensor([tok]), TABLES, torch.tensor([coins[t + 1]]), **kw)
        redraws.append(int(state.redraws[0]) > before)
    return authors, redraws, state


def word_reference(tokens, coins, p, cap):
    senior, since, authors, redraws = coins[0] < p, 0, [], []
    for t, tok in enumerate(tokens):
        authors.append(senior)
        since += 1
        r = TEXTS[tok].startswith(" ") or since >= cap
        if r:
            senior, since = coins[t + 1] < p, 0
        redraws.append(r)
    return authors, redraws


tokens_st = st.lists(st.integers(0, len(TEXTS) - 1), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(tokens=tokens_st, data=st.data(), cap=st.integers(1, 8), p=st.sampled_from([0.0, 0.3, 0.5, 1.0]))
def test_word_redraws_exactly_where_the_rule_says(tokens, data, cap, p):
    coins = data.draw(st.lists(st.floats(0, 0.999), min_size=len(tokens) + 1, max_size=len(tokens) + 1))
    authors, redraws, _ = run("word", tokens, coins, p=p, redraw_cap=cap)
    assert (authors, redraws) == word_reference(tokens, coins, p, cap)


def test_word_worked_example_from_the_docstring():
    # K = 3; tokens The, " cat", s, x, y, z, w -> ids a, " b", a, a, a, a, a; coins: S first, then J, J.
    authors, redraws, state = run("word", [0, 1, 0, 0, 0, 0, 0], [0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
                                  redraw_cap=3)
    assert authors == [True, True, False, False, False, False, False]
    assert redraws == [False, True, False, False, True, False, False]
    assert int(state.since[0]) == 2


@settings(max_examples=30, deadline=None)
@given(tokens=tokens_st, data=st.data())
def test_token_schedule_uses_one_fresh_coin_per_token(tokens, data):
    coins = data.draw(st.lists(st.floats(0, 0.999), min_size=len(tokens) + 1, max_size=len(tokens) + 1))
    authors, redraws, _ = run("token", tokens, coins)
    assert authors == [c < 0.5 for c in coins[:-1]]
    assert all(redraws)


def paragraph_reference(tokens):
    senior, prev_nl, authors, turns = True, False, [], 0
    for tok in tokens:
        authors.append(senior)
        text = TEXTS[tok]
        if text.endswith("\n\n") or (text == "\n" and prev_nl):
            senior, turns = not senior, turns + 1
        prev_nl = text.endswith("\n")
    return authors, turns


@settings(max_examples=60, deadline=None)
@given(tokens=tokens_st)
def test_paragraph_alternates_exactly_at_blank_lines(tokens):
    authors, redraws, state = run("paragraph", tokens, [0.0] * (len(tokens) + 1))
    ref_authors, turns = paragraph_reference(tokens)
    assert authors == ref_authors and authors[0] is True
    assert int(state.turns[0]) == turns
    assert not any(redraws)
    # Text-level restatement: the author changes after token t iff text(t-1) + text(t) ends with a blank line.
    changes = [(("" if t == 0 else TEXTS[tokens[t - 1]]) + TEXTS[tok]).endswith("\n\n")
               for t, tok in enumerate(tokens[:-1])]
    assert [a != b for a, b in zip(authors, authors[1:])] == changes


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 80), size=st.integers(1, 10))
def test_chunk_has_exact_lengths(n, size):
    authors, _, _ = run("chunk", [0] * n, [0.0] * (n + 1), chunk_size=size)
    assert authors == [(t // size) % 2 == 0 for t in range(n)]


@pytest.mark.parametrize("name,expect", [("solo", True), ("junior", False)])
def test_single_author_schedules(name, expect):
    authors, _, _ = run(name, [1, 2, 3, 4, 5], [0.9] * 6)
    assert authors == [expect] * 5


@pytest.mark.parametrize("name", ["word", "token"])
@pytest.mark.parametrize("p", [0.5, 0.2])
def test_senior_fraction_is_binomial_p(name, p):
    # At any step, each row's author is the latest Bernoulli(p) coin, independent of the tokens, so across N
    # independent rows the senior count is Binomial(N, p). Tolerance: 5 standard deviations (false-alarm rate
    # ~6e-7 per check), for each of 20 steps.
    n, steps = 4000, 20
    gen = torch.Generator().manual_seed(0)
    state = S.initial_state(name, torch.rand(n, generator=gen), p)
    sd = math.sqrt(n * p * (1 - p))
    for _ in range(steps):
        assert abs(int(state.senior.sum()) - n * p) < 5 * sd
        tok = torch.randint(0, len(TEXTS), (n,), generator=gen)
        state = S.advance(name, state, tok, TABLES, torch.rand(n, generator=gen), p=p, redraw_cap=4, chunk_size=4)


def test_unknown_schedule_is_rejected():
    with pytest.raises(ValueError, match="rollout.schedule 'sentence' is not one of"):
        S.initial_state("sentence", torch.zeros(1), 0.5)
