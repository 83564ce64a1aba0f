"""Credit designs (train/credit.py): which senior tokens of a failed rollout its negative advantage reaches."""

import contextlib
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_rl.config import load_config
from tandem_rl.grpo.loss import grpo_loss
from tandem_rl.models import load_tokenizer
from tandem_rl.rewards import FunctionGrader
from tandem_rl.train.batch import collate
from tandem_rl.train.credit import token_ends
from tandem_rl.train.rollout import collect
from tandem_rl.train.update import trainable_rows
from tiny import CannedEngine, tiny_tokenizer

CHECKER = "grpo.step_checker=tandem_rl.world.steps:check_steps"
# (author, text) pieces per rollout of the problem 20 - 2 - 1 (gold 17), cut at word boundaries
ROWS = [
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{17}")],                         # right
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 16 .\n\n \\boxed{16}")],                         # senior's error
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is"), (0, " 16"), (1, " .\n\n \\boxed{16}")],         # junior's error
    [(0, " 20 minus 2 is 18 ."), (1, "\n\n 18 minus 1 is 16 .\n\n \\boxed{16}")],                # senior's, later
    [(1, " 20 minus 2 is 18 .")],                                                               # no answer
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{17}")],
    [(0, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{16}")],                         # junior's answer
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{17}")],
]


def _collect(*options):
    from tandem_rl.train.credit import Credit

    tok = load_tokenizer("world:senior")
    cfg = load_config(None, ["grpo.group_size=8", *options])
    grader = FunctionGrader(lambda text, gold: float(f"\\boxed{{{gold}}}" in text))
    credit = Credit.from_config(cfg.grpo) if cfg.grpo.step_checker else None
    return tok, collect(CannedEngine(tok, ROWS), grader, tok, [tok.encode("Q")], ["17"], [0], cfg, step=0,
                        rollout_cfg=cfg.rollout, autocast=contextlib.nullcontext, credit=credit)


def _before(tok, ids, char):
    """Reference: tokens whose own decoded pieces, summed, end by ``char`` (the world tokenizer decodes cleanly)."""
    ends = np.cumsum([len(tok.decode([t])) for t in ids])
    return int((ends <= char).sum())


def test_first_error_credit_zeroes_exactly_the_tokens_before_the_error():
    tok, sr = _collect(CHECKER, "grpo.credit_from_first_error=true")
    assert sr.rewards.tolist() == [1, 0, 0, 0, 0, 1, 0, 1]
    for i in (0, 5, 7):  # right: full credit
        assert sr.credit[i].tolist() == [1.0] * len(sr.rollouts.response_ids[i])
    for i in (1, 2, 3):  # the false "16" starts where the error is
        at = sr.texts[i].index("16")
        k = _before(tok, sr.rollouts.response_ids[i], at)
        assert sr.credit[i].tolist() == [0.0] * k + [1.0] * (len(sr.rollouts.response_ids[i]) - k)
        assert tok.decode(sr.rollouts.response_ids[i][k:]).lstrip().startswith("16")
    assert sr.credit[4].tolist() == [1.0] * len(sr.rollouts.response_ids[4])  # no answer: no span, full blame
    at = sr.texts[6].rindex("16")  # answer differs from the last step: everything before the answer is spared
    assert sr.credit[6].sum() == len(sr.rollouts.response_ids[6]) - _before(tok, sr.rollouts.response_ids[6], at)
    c = sr.credit_counts
    assert (c["first_error_by_senior"], c["first_error_by_junior"], c["first_error_unlocated"]) == (2, 2, 1)
    senior_zeroed = sum(int((np.asarray(sr.rollouts.author[i]).astype(bool) & (sr.credit[i] == 0)).sum())
                        for i in range(8))
    assert c["credit_tokens_zeroed"] == senior_zeroed > 0 and c["credit_rows_skipped"] == 0


def test_skip_junior_errors_spares_only_rollouts_whose_first_error_the_junior_wrote():
    _, sr = _collect(CHECKER, "grpo.skip_junior_errors=true")
    zero = [i for i in range(8) if not sr.credit[i].any()]
    assert zero == [2, 6]  # the junior's false step; the junior's wrong answer
    assert all(sr.credit[i].all() for i in range(8) if i not in zero)
    assert sr.credit_counts["credit_rows_skipped"] == 2
    # a row without credit carries no policy gradient, so it is not even run
    adv = np.where(sr.rewards > 0, 1.0, -0.6)
    cfg = load_config(None, [])
    assert set(trainable_rows(sr.rollouts, adv, cfg.grpo, sr.credit)) == set(range(8)) - {2, 6}


def test_checker_alone_only_counts_and_designs_need_it():
    _, sr = _collect(CHECKER)
    assert sr.credit is None and sr.credit_counts["first_error_by_junior"] == 2
    _, sr = _collect()
    assert sr.credit is None and sr.credit_counts is None
    with pytest.raises(ValueError, match="need grpo.step_checker"):
        load_config(None, ["grpo.credit_from_first_error=true"]).grpo.validate()
    with pytest.raises(ValueError, match="package.module:function"):
        load_config(None, ["grpo.step_checker=check_steps"]).grpo.validate()
    with pytest.raises(ValueError, match="does not say where"):  # a counts-only checker is refused up front
        _collect("grpo.step_checker=tandem_rl.world.steps:step_counts")


def test_with_the_answer_guard_a_correct_rollout_is_not_a_failure():
    """The guard zeroes correct rollouts whose answer the junior wrote; they hold no error to locate or spare."""
    _, sr = _collect(CHECKER, "grpo.credit_from_first_error=true", "grpo.senior_answer_only=true")
    assert sr.rewards.tolist() == [1, 0, 0, 0, 0, 1, 0, 1]  # rollout 6's answer is the junior's, and wrong anyway
    _, plain = _collect(CHECKER, "grpo.credit_from_first_error=true")
    assert sr.credit_counts == plain.credit_counts
    # a junior-written correct answer: rewarded by the grader, zeroed by the guard, never counted as failed
    ROWS.append([(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n"), (0, " \\boxed{17}")])
    try:
        tok = load_tokenizer("world:senior")
        from tandem_rl.train.credit import Credit

        cfg = load_config(None, ["grpo.group_size=9", CHECKER, "grpo.credit_from_first_error=true",
                                 "grpo.senior_answer_only=true"])
        grader = FunctionGrader(lambda text, gold: float(f"\\boxed{{{gold}}}" in text))
        g = collect(CannedEngine(tok, ROWS), grader, tok, [tok.encode("Q")], ["17"], [0], cfg, step=0,
                    rollout_cfg=cfg.rollout, autocast=contextlib.nullcontext, credit=Credit.from_config(cfg.grpo))
    finally:
        ROWS.pop()
    assert g.rewards[8] == 0 and g.results[8].reward == 1  # the guard took its reward
    assert g.credit[8].all()  # not a failure: full (negative) credit stays
    assert sum(g.credit_counts[k] for k in g.credit_counts if k.startswith("first_error")) == 5


def test_credit_makes_advantages_per_token_and_ones_change_nothing():
    tok, sr = _collect(CHECKER, "grpo.credit_from_first_error=true")
    adv = np.linspace(-1, 1, 8)
    rows = list(range(8))
    per_row = collate(sr.rollouts, rows, adv, 0)
    per_tok = collate(sr.rollouts, rows, adv, 0, credit=sr.credit)
    assert per_tok.advantages.shape == per_tok.targets.shape
    for b, i in enumerate(rows):
        n = len(sr.rollouts.response_ids[i])
        want = adv[i] * sr.credit[i] if adv[i] < 0 else np.full(n, adv[i])  # credit scales negative advantages
        assert torch.allclose(per_tok.advantages[b, :n], torch.tensor(want, dtype=torch.float32))
    ones = collate(sr.rollouts, rows, adv, 0, credit=[np.ones(len(r), np.float32) for r in sr.rollouts.response_ids])
    g = torch.Generator().manual_seed(0)
    logp = -torch.rand(per_row.targets.shape, generator=g)
    old = logp + 0.1 * torch.randn(logp.shape, generator=g)
    kw = dict(agg="token-mean", n_tokens=float(per_row.loss_mask.sum()), n_seqs=8.0, max_len=32.0, eps_low=0.2,
              eps_high=0.2)
    a = grpo_loss(logp, old, per_row.advantages, per_row.loss_mask, **kw).loss
    b = grpo_loss(logp, old, ones.advantages, ones.loss_mask, **kw).loss
    assert torch.allclose(a, b)
    c = grpo_loss(logp, old, per_tok.advantages, per_tok.loss_mask, **kw).loss
    assert not torch.allclose(a, c)


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab 1+=\n") + ["é", "€", "😀"]), min_size=1, max_size=24),
       frac=st.floats(0, 1))
def test_token_ends_matches_a_brute_force_scan(text, frac):
    """Byte-level BPE with multi-byte characters: the largest k whose decoded prefix is a prefix of the text no
    longer than the cut (reference: try every k)."""
    tok = tiny_tokenizer()
    ids = tok.encode(text, add_special_tokens=False)
    full = tok.decode(ids)
    upto = int(frac * len(full))
    brute = max(k for k in range(len(ids) + 1)
                if full.startswith(tok.decode(ids[:k])) and len(tok.decode(ids[:k])) <= upto)
    assert token_ends(tok, ids, full, upto) == brute


def test_a_training_run_with_each_design_logs_its_counts(tmp_path):
    from tandem_rl.train.loop import train
    from tandem_rl.world.demo import demo_config

    for design in ("grpo.credit_from_first_error=true", "grpo.skip_junior_errors=true"):
        out = tmp_path / design.split(".")[1].split("=")[0]
        cfg = demo_config(["train.steps=2", "train.prompts_per_step=4", "train.mini_batches=1", "reward.workers=0",
                           "train.dump_rollouts_every=0", CHECKER, design, f"train.output_dir={out}"])
        train(cfg, progress=False)
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        assert len(rows) == 2
        for r in rows:
            failed = sum(r[f"first_error_by_{w}"] for w in ("senior", "junior", "mixed")) + r["first_error_unlocated"]
            assert failed == round(32 * (1 - r["reward_mean"]))  # every failed rollout is counted once
            assert np.isfinite(r["loss"])
