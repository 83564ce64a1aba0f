"""Error anatomy (eval/anatomy.py): the first failure of a failed solution and who wrote it; its metrics and report."""

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_rl.eval.anatomy import KINDS, anatomy, char_authors, first_failure, who_wrote
from tandem_rl.eval.records import SampleRecord
from tandem_rl.eval.summary import label_metrics
from tandem_rl.world.problems import jargon_solution, make_problem, plain_solution, terse_solution
from tandem_rl.world.steps import check_steps

P = make_problem(20, (("-", 2), ("-", 1), ("+", 5)))  # values 20 18 17 22


def _kind(text, finish="eos"):
    return first_failure(check_steps(text), finish).kind


def test_each_kind_on_a_hand_written_text():
    assert _kind(" 20 minus 2 is 18 .\n\n 19 minus 1 is 18 .\n\n \\boxed{18}") == "copy_error"
    assert _kind(" 20 minus 2 is 18 .\n\n 18 minus 1 is 16 .\n\n \\boxed{16}") == "false_step"
    assert _kind(" <<20-2=18>>\n\n <<18-1=17>>\n\n \\boxed{16}") == "answer_differs"
    assert _kind(" 20 minus 3 is 17 .\n\n 17 minus 1 is 16 .\n\n \\boxed{16}") == "misread"
    assert _kind(" 18\n\n 16\n\n \\boxed{16}") == "unchecked"
    assert _kind(" 20 minus 2 is 18 .\n\n 18 minus", "length") == "truncated"
    assert _kind(" 20 minus 2 is 18 .", "eos") == "no_answer"
    # a copy error and a false result in the same step: the copied operand comes first in the text
    assert _kind(" 20 minus 2 is 18 .\n\n 19 minus 1 is 5 .\n\n \\boxed{5}") == "copy_error"


def test_author_of_the_failing_span():
    text = " 20 minus 2 is 18 .\n\n 18 minus 1 is 16 .\n\n \\boxed{16}"
    at = text.index("16")
    junior_result = [1] * at + [0, 0] + [1] * (len(text) - at - 2)
    assert anatomy(check_steps(text), junior_result, "eos", correct=False) == ("false_step", "junior")
    half = [1] * (at + 1) + [0] * (len(text) - at - 1)
    assert anatomy(check_steps(text), half, "eos", correct=False) == ("false_step", "mixed")
    assert anatomy(check_steps(text), [0] * len(text), "eos", correct=True) == ("none", None)
    assert who_wrote(None, [1, 1]) is None
    assert char_authors([[1, "ab"], [0, "c"]]) == [1, 1, 0]


# Independent reference: inject one fault into a correct chain and name the kind from the injection alone.
FAULTS = ("none", "false_step", "copy_error", "answer_differs", "truncated", "no_answer")


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10_000), notation=st.sampled_from(["plain", "jargon"]), fault=st.sampled_from(FAULTS),
       at=st.integers(1, 3))
def test_injected_faults_are_named(seed, notation, fault, at):
    rng = random.Random(seed)
    operands = [rng.randint(1, 5) for _ in range(rng.choice([2, 3, 4]))]
    at = at % len(operands)  # the faulty step; copy errors need a previous step
    at = max(at, 1) if fault == "copy_error" else at
    left, steps = rng.randint(10, 20), []
    for i, x in enumerate(operands):
        if fault == "copy_error" and i == at:
            left += 1  # the previous result, miscopied
        result = left + x + (1 if fault == "false_step" and i == at else 0)
        steps.append((left, x, result))
        left = result  # later steps carry whatever was written on, correctly
    body = ([f" {a} plus {x} is {r} ." for a, x, r in steps] if notation == "plain"
            else [f" <<{a}+{x}={r}>>" for a, x, r in steps])
    answer = steps[-1][2] + (1 if fault == "answer_differs" else 0)
    text = "\n\n".join(body if fault in ("truncated", "no_answer") else body + [f" \\boxed{{{answer}}}"])
    expected = "misread" if fault == "none" else fault  # graded wrong although consistent: a misreading
    assert _kind(text, "length" if fault == "truncated" else "eos") == expected


def test_anatomy_shares_add_up_to_the_failure_rate():
    """Per problem the kinds partition the failed samples: their shares sum to 1 - pass@1."""
    rng = np.random.default_rng(0)
    records = []
    for pid in range(6):
        for s in range(4):
            correct = bool(rng.random() < 0.4)
            kind = "none" if correct else str(rng.choice(KINDS))
            records.append(SampleRecord(label="a", benchmark="b", problem_id=str(pid), sample=s, schedule="solo",
                                        response_ids=[1], author=[1], reward=float(correct), failure=kind))
    m = label_metrics(records)
    total = sum(m[f"solo_error_{k}"].num["b"] for k in KINDS)
    assert np.allclose(total, 4 * (1 - m["solo_pass@k"].num["b"][:, 0]))


def test_world_solutions_hold_no_located_error():
    """Read as if graded wrong, the world's own solutions have no copy error, false step or differing answer."""
    assert first_failure(check_steps(plain_solution(P)), "eos").kind == "misread"
    assert first_failure(check_steps(jargon_solution(P)), "eos").kind == "misread"
    assert first_failure(check_steps(terse_solution(P)), "eos").kind == "unchecked"
    text = plain_solution(P)
    assert anatomy(check_steps(text), [1] * len(text), "eos", correct=True) == ("none", None)


# The budget rule (issue 31): a failure that the budget decided is "truncated", whatever failed first.
def _world_tok():
    from tandem_rl.models import load_tokenizer

    return load_tokenizer("world:senior")


def _with_rule(problem, text, finish="eos", correct=False, budget=32):
    from tandem_rl.world.problems import budget_fits

    fits = budget_fits(problem, text, _world_tok(), budget)
    return fits, anatomy(check_steps(text), [1] * len(text), finish, correct, fits=fits)


FOUR = make_problem(10, (("+", 1), ("+", 2), ("+", 3), ("+", 4)))  # 10 11 13 16 20: plain 33 tokens, jargon 37
THREE = make_problem(10, (("+", 1), ("+", 2), ("+", 3)))           # 10 11 13 16: plain 26, jargon 29


def test_budget_rule_on_hand_made_cases():
    # plain on 4 operations cannot finish in 32 tokens: its false step 2 is not the reason it failed
    slip = " 10 plus 1 is 11 .\n\n 11 plus 2 is 14 .\n\n 14 plus 3 is 17 .\n\n 17 plus"
    assert _kind(slip, "length") == "false_step"
    assert _with_rule(FOUR, slip, "length") == (False, ("truncated", None))
    # the same failure on 3 operations: every notation fits, the false step stays the failure
    slip3 = " 10 plus 1 is 11 .\n\n 11 plus 2 is 14 .\n\n 14 plus 3 is 17 .\n\n \\boxed{17}"
    assert _with_rule(THREE, slip3) == (True, ("false_step", "senior"))
    # jargon on 4 operations (37 tokens) and a plain + jargon mix (the shorter, plain, 33) do not fit either
    assert _with_rule(FOUR, " <<10+1=11>>\n\n <<11+2=14>>\n\n \\boxed{14}")[1] == ("truncated", None)
    assert _with_rule(FOUR, " 10 plus 1 is 11 .\n\n <<11+2=14>>\n\n \\boxed{14}")[1] == ("truncated", None)
    # terse fits at 4 operations (13 tokens): a wrong terse answer is not the budget's doing
    assert _with_rule(FOUR, " 11\n\n 13\n\n 16\n\n 19\n\n \\boxed{19}") == (True, ("unchecked", None))
    # no step at all: any notation may be meant, terse fits, so the ordinary table decides
    assert _with_rule(FOUR, " \\boxed{19}") == (True, ("unchecked", None))
    # a correct sample has no failure, fitting or not; a larger budget makes plain fit again
    assert _with_rule(FOUR, " 10 plus 10 is 20 .\n\n \\boxed{20}", correct=True)[1] == ("none", None)
    assert _with_rule(FOUR, slip, "length", budget=40) == (True, ("false_step", "senior"))
    # unknown (no rule, or a problem the rule does not know): the ordinary table
    assert anatomy(check_steps(slip), [1] * len(slip), "length", False, fits=None) == ("false_step", "senior")


def test_the_evaluations_budget_rule_reads_each_records_problem():
    from types import SimpleNamespace

    from tandem_rl.data.problem import Problem
    from tandem_rl.eval.runner import budget_rule

    four = Problem("test:a", FOUR.text, "20", "test", {"key": FOUR.key, "n_ops": 4})
    by_text = Problem("test:b", FOUR.text, "20", "test", {})          # no key column: the text is read back
    other = Problem("test:c", "What is 2 + 2?", "4", "test", {})     # not a world problem
    rule = budget_rule(check_steps, {"test": [four, by_text, other]}, _world_tok(), 32)
    rec = lambda pid, text: SimpleNamespace(benchmark="test", problem_id=pid, text=text)
    assert rule(rec("test:a", " 10 plus 1 is 11 .")) is False
    assert rule(rec("test:b", " 10 plus 1 is 11 .")) is False
    assert rule(rec("test:a", " 11\n\n 13")) is True
    assert rule(rec("test:c", " 4")) is None and rule(rec("test:zz", " 4")) is None
    assert budget_rule(lambda text: (0, 0), {"test": [four]}, None, 32) is None  # a checker without the rule
