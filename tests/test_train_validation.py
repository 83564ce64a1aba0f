"""Validation during training (issue 16): the protocol's decoding, its pass@k metrics, rank shares, the history,
the config checks, and picking the best checkpoint with it."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from tandem_rl.config import load_config
from tandem_rl.data import Problem
from tandem_rl.train.build import needs_junior
from tandem_rl.train.evaluate import (ValidationSet, append_history, eval_rollout_config, metrics_from_sums,
                                      summarize, validate, validation_sets)
from tandem_rl.train.validate import check_config
from tiny import tiny_tokenizer


class _Gen:
    """Answers prompt ``[i]`` with the box of ``answers[i][call % len]``: a scripted engine."""

    def __init__(self, answers):
        self.answers, self.calls, self.seen = answers, {}, []
        self.tokenizer = SimpleNamespace(decode=lambda ids, skip_special_tokens: ids)

    def generate(self, prompts, rc, seed):
        self.seen.append((len(prompts), rc, seed))
        out = []
        for p in prompts:
            k = self.calls.get(p[0], 0)
            self.calls[p[0]] = k + 1
            out.append(f"\\boxed{{{self.answers[p[0]][k % len(self.answers[p[0]])]}}}")
        return SimpleNamespace(response_ids=out)


class _Grader:
    def grade(self, texts, golds, answer_format):
        return [SimpleNamespace(reward=float(t == f"\\boxed{{{g}}}")) for t, g in zip(texts, golds)]


def _sets():
    # benchmark a: problem 0 right 1 time in 2, problem 1 never; benchmark b: problem 2 always right
    a = ValidationSet("a", [Problem("0", "q", "7", "a"), Problem("1", "q", "8", "a")], [[0], [1]])
    b = ValidationSet("b", [Problem("2", "q", "9", "b")], [[2]])
    return [a, b], {0: ["7", "x"], 1: ["x"], 2: ["9"]}


def _cfg(*overrides):
    return load_config(None, ["model.senior=x", "train.eval_every=1", *overrides])


def test_pass_at_k_per_benchmark_and_macro():
    sets, answers = _sets()
    m = validate(_Gen(answers), _Grader(), sets, _cfg("train.eval_samples=2"), step=0, autocast=_null)
    assert m["eval_pass@1/a"] == pytest.approx((0.5 + 0.0) / 2) and m["eval_pass@2/a"] == pytest.approx(0.5)
    assert m["eval_pass@1/b"] == 1.0 and m["eval_pass@2/b"] == 1.0
    assert m["eval_pass@1"] == pytest.approx((0.25 + 1.0) / 2) and m["eval_pass@2"] == pytest.approx(0.75)
    assert m["eval_solo_acc"] == pytest.approx(3 / 6)  # pooled over samples


def test_rank_shares_add_up_to_the_single_process_metrics():
    sets, answers = _sets()
    cfg = _cfg("train.eval_samples=2")
    whole = validate(_Gen(answers), _Grader(), sets, cfg, step=0, autocast=_null)
    local = []
    for rank in (0, 1):
        validate(_Gen(answers), _Grader(), sets, cfg, step=0, autocast=_null, rank=rank, world=2,
                 all_sum=lambda v: local.append(v) or v)
    summed = (np.asarray(local[0]) + np.asarray(local[1])).tolist()
    assert metrics_from_sums(["a", "b"], summed, n=2, solo=True) == whole


def test_empty_rank_and_empty_benchmark_give_nan_not_an_error():
    m = metrics_from_sums(["a"], [0, 0, 0, 0], n=1, solo=True)
    assert np.isnan(m["eval_pass@1"]) and np.isnan(m["eval_solo_acc"])
    assert summarize(["a", "b"], [[[1]], []], solo=False) == {"eval_pass@1/a": 1.0, "eval_pass@1/b": pytest.approx(
        float("nan"), nan_ok=True), "eval_pass@1": 1.0}


def test_decoding_of_the_protocol():
    greedy = eval_rollout_config(_cfg())
    assert (greedy.schedule, greedy.temperature, greedy.top_p, greedy.top_k) == ("solo", 0.0, 1.0, 0)
    eval_section = eval_rollout_config(_cfg("train.eval_greedy=false"))
    assert (eval_section.temperature, eval_section.top_p, eval_section.top_k) == (0.7, 0.8, 20)
    authors = eval_rollout_config(_cfg("train.eval_greedy=false", "train.eval_temperature=0.6",
                                       "train.eval_top_p=0.95", "train.eval_top_k=0"))
    assert (authors.temperature, authors.top_p, authors.top_k) == (0.6, 0.95, 0)
    handoff = eval_rollout_config(_cfg("train.eval_schedule=paragraph", "eval.max_rounds=150",
                                       "rollout.junior_temperature=2.0"))
    assert handoff.schedule == "paragraph" and handoff.max_turns == 300 and handoff.junior_temperature is None


def test_handoff_validation_engine_call_and_seeds():
    sets, answers = _sets()
    gen = _Gen(answers)
    validate(gen, _Grader(), sets, _cfg("train.eval_schedule=paragraph", "train.generation_batch_size=2",
                                        "train.seed=5"), step=3, autocast=_null)
    from tandem_rl.train.data_order import step_seed

    assert [n for n, _, _ in gen.seen] == [2, 1]
    assert [s for _, _, s in gen.seen] == [step_seed(5, 3, 2_000_000), step_seed(5, 3, 2_000_001)]
    assert all(rc.schedule == "paragraph" for _, rc, _ in gen.seen)


def test_validation_sets_from_benchmarks_and_holdout(tmp_path):
    tok = tiny_tokenizer()
    for name, n in (("amc", 3), ("aime", 5)):
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"problem": f"{name} {i}?", "answer": str(i)}) + "\n" for i in range(n)))
    cfg = _cfg(f"train.eval_benchmarks=[{tmp_path / 'amc.jsonl'},{tmp_path / 'aime.jsonl'}]", "train.eval_problems=4")
    sets = validation_sets(cfg, tok, [], [])
    assert [(s.name, len(s.problems), len(s.prompt_ids)) for s in sets] == [("amc", 3, 3), ("aime", 4, 4)]
    held = [Problem(str(i), "q", "1", "h") for i in range(6)]
    [h] = validation_sets(_cfg("train.eval_problems=4"), tok, held, [[i] for i in range(6)])
    assert h.name == "holdout" and [p.id for p in h.problems] == ["0", "1", "2", "3"]


def test_history_rows(tmp_path):
    append_history(tmp_path, 20, {"eval_pass@4": 0.5, "eval_pass@4/aime": float("nan"), "loss": 1.0}, best=True)
    append_history(tmp_path, 40, {"eval_pass@4": 0.4}, best=False)
    rows = [json.loads(x) for x in (tmp_path / "validation.jsonl").read_text().splitlines()]
    assert rows == [{"step": 20, "best": True, "eval_pass@4": 0.5, "eval_pass@4/aime": None},
                    {"step": 40, "best": False, "eval_pass@4": 0.4}]


def test_config_checks_name_the_field():
    with pytest.raises(ValueError, match="needs validation: set train.eval_every"):
        check_config(load_config(None, ["model.senior=x", "train.best_metric=eval_pass@1"]))
    with pytest.raises(ValueError, match=r"eval_samples=4 choose from .*eval_pass@4"):
        check_config(_cfg("train.eval_samples=4", "train.best_metric=eval_pass@8"))
    with pytest.raises(ValueError, match="train.eval_schedule 'paragrph'"):
        check_config(_cfg("train.eval_schedule=paragrph"))
    with pytest.raises(ValueError, match="writes no senior token"):
        check_config(_cfg("train.eval_schedule=junior"))
    with pytest.raises(ValueError, match="eval_solo_acc is logged only"):
        check_config(_cfg("train.eval_schedule=paragraph", "train.best_metric=eval_solo_acc"))
    check_config(_cfg("train.eval_samples=4", "train.best_metric=eval_pass@4/aime"))


def test_handoff_validation_loads_the_junior_for_a_solo_run():
    assert not needs_junior(_cfg("rollout.schedule=solo"))
    assert needs_junior(_cfg("rollout.schedule=solo", "train.eval_schedule=paragraph"))
    assert not needs_junior(load_config(None, ["rollout.schedule=solo", "train.eval_schedule=paragraph"]))


def _null():
    import contextlib

    return contextlib.nullcontext()
