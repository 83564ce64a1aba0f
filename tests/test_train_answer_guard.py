"""grpo.senior_answer_only (the answer-authorship guard) and the cost-per-role training metrics."""

import contextlib
import json

import numpy as np

from tandem_rl.config import load_config
from tandem_rl.rewards import FunctionGrader
from tandem_rl.train import loop
from tandem_rl.train.metrics import rollout_metrics
from tandem_rl.train.rollout import collect
from tiny import CannedEngine, tiny_tokenizer

# (text pieces with their author) per rollout; the gold is 42
ROWS = [
    [(1, "So \\boxed{42}")],                    # senior wrote the answer, correct: kept
    [(1, "So "), (0, "\\boxed{42}")],           # junior wrote the answer, correct: zeroed
    [(1, "So \\boxed{4"), (0, "2}")],           # mixed answer, correct: zeroed
    [(0, "So "), (1, "\\boxed{42}")],           # junior wrote the reasoning, senior the answer: kept
    [(1, "So \\boxed{5}")],                     # senior, wrong: 0 either way
    [(0, "So \\boxed{42}")],                    # junior wrote everything: zeroed
    [(1, "no answer")],                         # no answer: 0
    [(0, "So "), (1, "\\boxed{"), (1, "42}")],  # senior answer: kept
]


STATS = {"senior_forward_seconds": 0.5, "junior_forward_seconds": 0.25, "senior_positions": 10,
         "junior_positions": 10, "senior_param_tokens": 100, "junior_param_tokens": 30}


def _collect(guard: bool):
    tok = tiny_tokenizer()
    cfg = load_config(None, ["grpo.group_size=8", f"grpo.senior_answer_only={str(guard).lower()}"])
    grader = FunctionGrader(lambda text, gold: float(f"\\boxed{{{gold}}}" in text))
    sr = collect(CannedEngine(tok, ROWS, STATS), grader, tok, [tok.encode("Q")], ["42"], [0], cfg, step=0,
                 rollout_cfg=cfg.rollout, autocast=contextlib.nullcontext)
    return sr


def test_guard_zeroes_exactly_the_rollouts_whose_answer_the_senior_did_not_write():
    plain, guarded = _collect(False), _collect(True)
    who = [r.answer_author for r in plain.results]
    assert who == ["senior", "junior", "mixed", "senior", "senior", "junior", None, "senior"]
    assert plain.rewards.tolist() == [1, 1, 1, 1, 0, 1, 0, 1]
    assert guarded.rewards.tolist() == [1, 0, 0, 1, 0, 0, 0, 1]
    assert [r.reward for r in guarded.results] == plain.rewards.tolist()  # the grader's own rewards are kept
    m_plain, m_guard = (rollout_metrics(s, np.zeros(1), 8) for s in (plain, guarded))
    assert m_plain["answer_guard_zeroed"] == 0 and m_guard["answer_guard_zeroed"] == 3
    assert m_guard["reward_mean"] == 3 / 8 and m_plain["reward_mean"] == 6 / 8
    assert m_guard["answer_by_junior"] == 2 / 8 and m_guard["answer_by_mixed"] == 1 / 8


def test_role_token_counts_are_the_authorship_sums():
    sr = _collect(False)
    m = rollout_metrics(sr, np.zeros(1), 8)
    authors = np.concatenate(sr.rollouts.author)
    assert m["senior_tokens_written"] == int((authors == 1).sum()) > 0
    assert m["junior_tokens_written"] == int((authors == 0).sum()) > 0
    assert m["senior_tokens_written"] + m["junior_tokens_written"] == sum(len(r) for r in sr.rollouts.response_ids)
    assert m["senior_forward_seconds"] == 0.5 and m["junior_param_tokens"] == 30


def test_training_logs_cost_per_role(tiny_run):
    """A real two-step tandem run: each step's role keys are present, positive, and match its dumped rollouts."""
    cfg = load_config(None, [f"model.senior={tiny_run / 'model'}", f"data.source={tiny_run / 'p.jsonl'}",
                             f"train.output_dir={tiny_run / 'run'}", "train.steps=2", "train.prompts_per_step=2",
                             "grpo.group_size=4", "reward.workers=0", "train.loggers=[jsonl]",
                             "train.dump_rollouts_every=1", "rollout.max_new_tokens=8", "grpo.senior_answer_only=true"])
    run = loop.train(cfg, progress=False)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for r in rows:
        for role in ("senior", "junior"):
            assert r[f"{role}_forward_seconds"] > 0 and r[f"{role}_positions"] > 0
            assert r[f"{role}_param_tokens"] > r[f"{role}_positions"]
        dumped = [json.loads(x) for x in (run / f"rollouts/step_{r['step']:06d}.jsonl").read_text().splitlines()]
        assert r["senior_tokens_written"] == sum(sum(d["author"]) for d in dumped)
        assert r["junior_tokens_written"] == sum(len(d["author"]) - sum(d["author"]) for d in dumped)
        assert r["answer_guard_zeroed"] >= 0
