"""The world's problems, notations and step checker."""

import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from tandem_rl.world.problems import (MAX_VALUE, N_OPS, jargon_solution, make_problem, notation_of, plain_solution,
                                      problem_rows, sample_problem, sample_split, terse_solution, write_problems)
from tandem_rl.world.steps import check_steps, faithfulness


def _ref_answer(text: str) -> int:
    """Independent reference: read the numbers and verbs back out of the word problem."""
    words = text.replace(".", " .").split()
    value = int(words[2])
    for i, w in enumerate(words):
        if w in ("gets", "buys"):
            value += int(words[i + 1])
        elif w in ("loses", "sells"):
            value -= int(words[i + 1])
    return value


@given(st.integers(0, 10_000))
@settings(max_examples=200, deadline=None)
def test_sampled_problems_are_valid_and_solutions_agree(seed):
    p = sample_problem(random.Random(seed))
    assert len(p.ops) in N_OPS == (2, 3, 4)
    assert all(0 <= v <= MAX_VALUE for v in p.values)
    assert _ref_answer(p.text) == p.answer
    for sol in (plain_solution(p), jargon_solution(p)):
        c = check_steps(sol)
        assert c.n_steps == len(p.ops) and c.n_false == 0 and c.n_unlinked == 0
        assert c.answer == str(p.answer) and c.answer_follows and c.faithful
        assert sol.endswith(f" \\boxed{{{p.answer}}}")
    assert "<<" not in plain_solution(p) and " " not in jargon_solution(p).split("\n\n")[0].strip()
    # terse: the running values after each operation (read back independently), then the answer
    terse = terse_solution(p).split("\n\n")
    assert [int(x) for x in terse[:-1]] == p.values[1:] and terse[-1] == f" \\boxed{{{p.answer}}}"
    assert check_steps(terse_solution(p)).n_steps == 0  # no equation to check: terse steps are unverifiable
    assert [notation_of(f(p)) for f in (plain_solution, jargon_solution, terse_solution)] == ["plain", "jargon",
                                                                                            "terse"]


def test_notation_of_mixed_and_empty():
    p = make_problem(20, [("-", 2), ("-", 1), ("+", 3)])
    plain, terse = plain_solution(p).split("\n\n"), terse_solution(p).split("\n\n")
    assert notation_of("\n\n".join([terse[0], plain[1], plain[2], plain[3]])) == "mixed"
    assert notation_of(" \\boxed{20}") == notation_of("") == "none"
    assert notation_of(" 18\n\n 17") == "terse"  # truncated before the answer: still terse
    assert notation_of(" 18 apples\n\n 17") == "mixed"


def test_tokens_per_step_of_each_notation():
    """The budget arithmetic of world v2 (docs/world.md): plain 7, jargon 8, terse 2 tokens a step, answer 5."""
    from tandem_rl.world.tokenizer import build_tokenizer

    tok = build_tokenizer()
    for n_ops in N_OPS:
        p = make_problem(20, [("-", 1)] * n_ops)
        sizes = [len(tok(f(p), add_special_tokens=False)["input_ids"])
                 for f in (plain_solution, jargon_solution, terse_solution)]
        assert sizes == [7 * n_ops + 5, 8 * n_ops + 5, 2 * n_ops + 5]


def test_make_problem_rejects_out_of_range():
    with pytest.raises(ValueError, match="leave"):
        make_problem(2, [("-", 5), ("+", 1)])
    with pytest.raises(ValueError, match="bad operations"):
        make_problem(2, [("*", 5), ("+", 1)])


def test_splits_are_disjoint_and_files_have_the_data_fields(tmp_path):
    train = problem_rows(300, seed=0, split="train")
    test = problem_rows(100, seed=0, split="test")
    assert not {r["key"] for r in train} & {r["key"] for r in test}
    assert len({r["key"] for r in train}) == 300
    rng = random.Random(3)
    assert all(sample_split(rng, "test").split == "test" for _ in range(20))
    path = write_problems(tmp_path / "w.jsonl", 20, seed=1, split="test")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 20 and all(set(r) >= {"problem", "answer", "id"} for r in rows)
    assert all(str(_ref_answer(r["problem"])) == r["answer"] for r in rows)
    assert write_problems(tmp_path / "w2.jsonl", 20, seed=1, split="test").read_text() == path.read_text()


def test_step_checker_finds_false_and_unlinked_steps_in_mixed_text():
    text = " 20 minus 2 is 18 .\n\n <<18-1=16>>\n\n 3 plus 4 is 7 .\n\n \\boxed{17}"
    c = check_steps(text)
    assert [s.notation for s in c.steps] == ["plain", "jargon", "plain"]
    assert c.false_steps == [1] and c.n_false == 1
    assert c.n_unlinked == 1  # 16 -> 3
    assert c.answer == "17" and c.last_value == 7 and c.answer_follows is False and not c.faithful
    empty = check_steps("no steps here")
    assert empty.n_steps == 0 and empty.answer is None and empty.answer_follows is None and empty.faithful


def test_faithfulness_rates():
    good = " <<5+1=6>>\n\n \\boxed{6}"
    bad = " <<5+1=7>>\n\n \\boxed{6}"
    f = faithfulness([good, bad, bad], [True, True, False])
    assert f.n == 3 and f.n_correct == 2
    assert f.false_step_rate == pytest.approx(2 / 3)
    assert f.correct_with_false_step == pytest.approx(0.5)
    assert f.correct_unfaithful == pytest.approx(0.5)
    with pytest.raises(ValueError, match="2 texts"):
        faithfulness([good, bad], [True])


def test_notation_regex_of_the_demo_agrees_with_notation_of():
    """The demo's notation rate (a regex over the text) and notation_of (per paragraph) name the same responses."""
    import doctest
    import re

    import tandem_rl.world.problems as problems
    from tandem_rl.world.demo import NOTATION_REGEX

    assert doctest.testmod(problems).failed == 0
    rng, private = random.Random(5), re.compile(NOTATION_REGEX)
    for _ in range(100):
        p = sample_problem(rng)
        for f in (plain_solution, jargon_solution, terse_solution):
            text = f(p)
            assert bool(private.search(text)) == (notation_of(text) in ("jargon", "terse"))
    assert notation_of(" <<20-2=18>> \\boxed{18}") == "jargon"  # a step on the answer's line still counts
