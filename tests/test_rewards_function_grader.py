"""``FunctionGrader``: a user's reward rule behind ``GraderPool``'s interface, and the loop's ``grader`` argument."""

import json

import numpy as np
import pytest

from tandem_rl.config import load_config
from tandem_rl.rewards import FunctionGrader
from tandem_rl.train import loop


def test_rewards_come_from_the_function_and_authorship_is_kept():
    g = FunctionGrader(lambda text, gold: 0.25 if gold in text else -1.0)
    text = "so \\boxed{12}"
    who = np.array([1] * 4 + [0] * (len(text) - 4), dtype=np.uint8)  # the junior wrote the box
    a, b = g.grade([text, "nothing"], ["12", "12"], char_authors=[who, np.ones(7, np.uint8)])
    assert (a.reward, a.extracted, a.stage, a.answer_author) == (0.25, "12", "function", "junior")
    assert (b.reward, b.extracted, b.answer_author) == (-1.0, None, None)


def test_bad_rules_stop_with_the_row_named():
    with pytest.raises(TypeError, match="callable"):
        FunctionGrader("not a function")
    with pytest.raises(RuntimeError, match="response 1"):
        FunctionGrader(lambda t, g: 1 / len(t)).grade(["x", ""], ["1", "1"])
    with pytest.raises(ValueError, match="finite"):
        FunctionGrader(lambda t, g: float("nan")).grade(["x"], ["1"])
    with pytest.raises(ValueError, match="2 responses but 1"):
        FunctionGrader(lambda t, g: 1.0).grade(["x", "y"], ["1"])


def test_the_loop_grades_with_the_grader_it_is_given(tiny_run):
    seen = []

    def rule(text, gold):
        seen.append(gold)
        return 1.0  # every rollout solved: the metrics must say so

    cfg = load_config(None, [f"model.senior={tiny_run / 'model'}", f"data.source={tiny_run / 'p.jsonl'}",
                             f"train.output_dir={tiny_run / 'run'}", "train.steps=2", "train.prompts_per_step=2",
                             "grpo.group_size=2", "rollout.max_new_tokens=4", "reward.workers=0",
                             "rollout.schedule=solo", "train.loggers=[jsonl]"])
    run = loop.train(cfg, progress=False, grader=FunctionGrader(rule))
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(seen) == 2 * 2 * 2 and set(seen) == {"3"}  # steps x prompts x group, the problems' gold
    assert [r["reward_mean"] for r in rows] == [1.0, 1.0]
