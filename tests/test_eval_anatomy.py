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
