"""reward.reject_regex: a training rollout whose text matches gets reward 0 (the plain-notation control of
docs/sweep.md, "Why a weaker junior costs accuracy"); off by default, and then nothing changes."""

import contextlib
import json

import numpy as np
import pytest

from tandem_rl.config import load_config
from tandem_rl.rewards import GraderPool
from tandem_rl.train import loop
from tandem_rl.train.rollout import collect
from tandem_rl.world.demo import NOTATION_REGEX
from tiny import CannedEngine, tiny_tokenizer

# the world's three notations of one problem (20 - 2 - 1 = 17; tandem_rl/world/problems.py), each correct, plus
# a plain solution with a wrong answer and a co-written one that mixes plain and jargon
ROWS = [
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{17}")],   # plain, correct: 1
    [(1, " <<20-2=18>>\n\n <<18-1=17>>\n\n \\boxed{17}")],                 # jargon, correct: 0
    [(1, " 18\n\n 17\n\n \\boxed{17}")],                                   # terse, correct: 0
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 16 .\n\n \\boxed{16}")],   # plain, wrong: 0 either way
    [(1, " 20 minus 2 is 18 .\n\n"), (0, " <<18-1=17>>\n\n \\boxed{17}")],  # mixed, correct: 0 (jargon inside)
    [(1, " \\boxed{17}")],                                                 # no step at all, correct: 1
    [(1, " 20 minus 2 is 18 .\n\n 17\n\n \\boxed{17}")],                   # one terse paragraph: 0
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{17}")],   # plain, correct: 1
]


def _collect(*overrides):
    tok = tiny_tokenizer()
    cfg = load_config(None, ["grpo.group_size=8", *overrides])
    with GraderPool(workers=0) as pool:  # string matches only: no helper process is started
        return collect(CannedEngine(tok, ROWS), pool, tok, [tok.encode("Q")], ["17"], [0], cfg, step=0,
                       rollout_cfg=cfg.rollout, autocast=contextlib.nullcontext)


def test_only_plain_notation_solutions_keep_their_reward():
    off, on = _collect(), _collect(f"reward.reject_regex={NOTATION_REGEX}")
    assert off.rewards.tolist() == [1, 1, 1, 0, 1, 1, 1, 1]
    assert on.rewards.tolist() == [1, 0, 0, 0, 0, 1, 0, 1]
    assert [r.reward for r in on.results] == off.rewards.tolist()  # the grader's own verdicts are kept
    assert on.credit_counts == {"reject_regex_matched": 4, "reject_regex_zeroed": 4}


def test_a_match_on_a_wrong_answer_is_counted_but_zeroes_nothing():
    sr = _collect("reward.reject_regex=minus 1 is 16")
    assert sr.rewards.tolist() == [1, 1, 1, 0, 1, 1, 1, 1]
    assert sr.credit_counts == {"reject_regex_matched": 1, "reject_regex_zeroed": 0}


def test_off_by_default_changes_nothing():
    sr = _collect()
    assert load_config(None, []).reward.reject_regex is None
    assert sr.credit_counts is None  # no metric keys appear in a default run's metrics.jsonl


def test_an_invalid_regex_is_a_config_error_naming_the_field():
    with pytest.raises(ValueError, match=r"reward.reject_regex '\(\?m\)<<\(' is not a valid regular expression"):
        load_config(None, ["reward.reject_regex=(?m)<<("])


def test_training_logs_the_counts_and_trains_on_the_zeroed_rewards(tiny_run):
    """Two real GRPO steps: a regex that matches every response ('' matches anywhere) zeroes every reward, so no
    group has a learning signal; the counts are in metrics.jsonl."""
    cfg = load_config(None, [f"model.senior={tiny_run / 'model'}", f"data.source={tiny_run / 'p.jsonl'}",
                             f"train.output_dir={tiny_run / 'run'}", "train.steps=2", "train.prompts_per_step=2",
                             "grpo.group_size=4", "reward.workers=0", "train.loggers=[jsonl]",
                             "rollout.schedule=solo", "rollout.max_new_tokens=8", "reward.reject_regex="])
    assert cfg.reward.reject_regex == ""
    run = loop.train(cfg, progress=False)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["reject_regex_matched"] for r in rows] == [8, 8]
    assert all(r["reward_mean"] == 0 and r["zero_std_frac"] == 1 for r in rows)
