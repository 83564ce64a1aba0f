"""Transfer curves (eval/transfer.py): prefix cutting on hand-made texts, the area under the curve by hand, and a
whole curve from `evaluate` on the world's tiny models against an independent recomputation with HF `generate`."""

import json

import numpy as np
import pytest
import torch

from tandem_rl.cogen.vocab import token_tables
from tandem_rl.eval.records import TransferRecord, read_jsonl
from tandem_rl.eval.runner import evaluate
from tandem_rl.eval.transfer import (auc, check_fractions, plan, prefix_length, reasoning_length, step_cuts,
                                     transfer_metrics)
from tandem_rl.models import load_model, load_tokenizer
from tandem_rl.rewards.extract import last_boxed
from tandem_rl.world.demo import demo_config

GRID = [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("world:senior")


def _ids(tok, text, eos=True):
    return tok(text)["input_ids"] + ([tok.eos_token_id] if eos else [])


def test_world_example_from_the_docstring(tok):
    ids = _ids(tok, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{17}")
    r = reasoning_length(tok, ids)
    assert r == 14 and tok.decode(ids[:r]).endswith("17 .\n\n")
    tables = token_tables(tok)
    cuts = step_cuts(ids, r, tables.ends_blank_line.tolist(), tables.ends_newline.tolist(),
                     tables.is_newline.tolist())
    assert cuts == [7, 14]
    assert [prefix_length("tokens", f, r, cuts) for f in GRID] == [0, 4, 7, 11, 14]
    assert [prefix_length("steps", f, r, cuts) for f in GRID] == [0, 7, 7, 14, 14]


def test_cut_edge_cases(tok):
    tables = token_tables(tok)
    t = [tables.ends_blank_line.tolist(), tables.ends_newline.tolist(), tables.is_newline.tolist()]
    # no box at all: everything but the EOS is reasoning; f = 1 hands over all of it, f = 0 nothing
    ids = _ids(tok, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .")
    r = reasoning_length(tok, ids)
    assert r == len(ids) - 1
    cuts = step_cuts(ids, r, *t)
    assert cuts == [7, r]  # the trailing step without a blank line counts
    assert prefix_length("tokens", 1.0, r, cuts) == r and prefix_length("steps", 1.0, r, cuts) == r
    assert prefix_length("tokens", 0.0, r, cuts) == 0 and prefix_length("steps", 0.0, r, cuts) == 0
    # two boxes: the cut is before the last one, so the earlier box stays in the reasoning
    ids = _ids(tok, " \\boxed{3} is wrong .\n\n \\boxed{4}")
    r = reasoning_length(tok, ids)
    assert tok.decode(ids[:r]) == " \\boxed{3} is wrong .\n\n"
    # no blank line: the whole reasoning is one step (f < 1/2 -> nothing, f >= 1/2 -> all of it)
    ids = _ids(tok, " 20 minus 2 is 18 . \\boxed{18}")
    r = reasoning_length(tok, ids)
    cuts = step_cuts(ids, r, *t)
    assert cuts == [r] and [prefix_length("steps", f, r, cuts) for f in GRID] == [0, 0, r, r, r]
    # an answer-only response: empty reasoning, every prefix is empty
    ids = _ids(tok, " \\boxed{5}")
    assert reasoning_length(tok, ids) == 0 and step_cuts(ids, 0, *t) == []
    assert prefix_length("steps", 1.0, 0, []) == 0 and prefix_length("tokens", 1.0, 0, []) == 0
    # a blank line split into two "\n" tokens also ends a step (the paragraph schedule's second rule)
    ebl, enl, isn = [False] * 4, [False, True, False, False], [False, True, False, False]
    assert step_cuts([2, 1, 1, 3, 2], 5, ebl, enl, isn) == [3, 5]
    assert step_cuts([2, 1, 3, 1, 2], 5, ebl, enl, isn) == [5]  # "\n" after a token not ending in "\n": no step


def test_plan_deduplicates_identical_prefixes(tok):
    ids = _ids(tok, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{17}")
    p = plan(tok, token_tables(tok), [ids], fractions=GRID, units=["tokens", "steps"])
    assert sorted(n for _, n in p.requests) == [0, 4, 7, 11, 14]
    assert p.cells[(0, "steps", 0.25)] == (7, 14, 2)


def test_bad_grids_are_refused():
    for bad in ([0.5, 1.0], [0.0, 0.5], [0.0, 0.5, 0.5, 1.0], [0.0, 1.5], [1.0]):
        with pytest.raises(ValueError, match="transfer_fractions"):
            check_fractions(bad)
    assert check_fractions([0, 1]) == [0.0, 1.0]


def test_transfer_needs_a_boxed_answer_format(tmp_path):
    """With gsm8k answers the cut (before the last box) would hand the junior the senior's ``#### N``: refused."""
    cfg = demo_config(["eval.metrics=[solo,transfer]", "reward.answer_format=gsm8k"])
    with pytest.raises(ValueError, match="needs reward.answer_format 'boxed'"):
        evaluate(cfg, {"initial": "/nonexistent"}, junior="world:junior", base=None, output_dir=tmp_path / "ev",
                 progress=False)


def test_auc_and_metrics_by_hand():
    assert float(auc(np.array([1.0, 0.0, 1.0]), [0, 0.5, 1])) == pytest.approx(0.5)
    assert float(auc(np.array([0.2, 0.4, 0.4, 1.0]), [0, 0.2, 0.5, 1])) == pytest.approx(
        0.2 * 0.3 + 0.3 * 0.4 + 0.5 * 0.7)

    def rec(b, pid, s, f, reward):
        return TransferRecord("x", b, pid, s, "tokens", f, 0, 3, 1, reward=reward)

    # benchmark a: problem p1 (2 samples), p2 (1 sample: need the same count per fraction only within a problem)
    records = [rec("a", "p1", 0, 0.0, 1), rec("a", "p1", 1, 0.0, 0), rec("a", "p1", 0, 0.5, 1),
               rec("a", "p1", 1, 0.5, 1), rec("a", "p1", 0, 1.0, 0), rec("a", "p1", 1, 1.0, 1),
               rec("a", "p2", 0, 0.0, 0), rec("a", "p2", 0, 0.5, 0), rec("a", "p2", 0, 1.0, 1),
               rec("b", "q1", 0, 0.0, 1), rec("b", "q1", 0, 0.5, 1), rec("b", "q1", 0, 1.0, 1)]
    m = transfer_metrics(records)
    # a: p1 curve [.5, 1, .5], p2 [0, 0, 1] -> [.25, .5, .75]; b: [1, 1, 1]; macro [.625, .75, .875]
    np.testing.assert_allclose(m["transfer_tokens_accuracy"].macro_value(), [0.625, 0.75, 0.875])
    auc_a = np.mean([0.25 * (0.5 + 1) + 0.25 * (1 + 0.5), 0.25 * 0 + 0.25 * 1])
    assert float(m["transfer_tokens_auc"].macro_value()) == pytest.approx((auc_a + 1.0) / 2)
    assert float(m["transfer_tokens_auc"].macro_value()) == pytest.approx(
        float(auc(m["transfer_tokens_accuracy"].macro_value(), [0, 0.5, 1])))  # linear: area of the mean curve


def test_curve_from_evaluate_matches_an_independent_recomputation(tmp_path):
    """World models, greedy decoding: every continuation must equal HF generate from prompt + prefix, and the
    summary's macro curve must equal per-problem means of last-box == gold, averaged over problems."""
    cfg = demo_config(["eval.limit=4", "eval.n_samples=2", "eval.bootstrap=50", "reward.workers=0",
                       "eval.temperature=0", "eval.metrics=[solo,transfer]", "eval.transfer_limit=3",
                       "eval.transfer_samples=1", "eval.batch_size=7"])
    out = evaluate(cfg, {"initial": "world:senior"}, junior="world:junior", base=None,
                   output_dir=tmp_path / "ev", progress=False)
    s = out["labels"]["initial"]
    assert s["transfer_fractions"] == GRID
    recs = read_jsonl(tmp_path / "ev" / "initial" / "transfer.jsonl", TransferRecord)
    solo = {(r["problem_id"], r["sample"]): r for r in map(json.loads, open(tmp_path / "ev" / "initial" /
                                                                           "samples.jsonl"))}
    assert len({r.problem_id for r in recs}) == 3 and {r.sample for r in recs} == {0}
    assert len(recs) == 3 * 2 * len(GRID)
    tok = load_tokenizer("world:senior")
    junior = load_model("world:junior", dtype="float32", device="cpu")
    from tandem_rl.data import encode_problems, load_problems
    import dataclasses
    probs = load_problems(dataclasses.replace(cfg.data, source=cfg.eval.benchmarks[0], holdout=0, limit=4))
    enc = encode_problems(tok, probs.problems, cfg.data)
    prompt = {p.id: list(ids) for p, ids in zip(enc.problems, enc.prompt_ids)}
    by_hand: dict = {}
    for r in recs:
        ids = solo[(r.problem_id, r.sample)]["response_ids"]
        text = tok.decode(ids, skip_special_tokens=True)
        cut = text.rfind("\\boxed")
        reasoning = [n for n in range(len(ids) + 1)
                     if len(tok.decode(ids[:n], skip_special_tokens=True)) <= (cut if cut >= 0 else len(text))
                     and (n == 0 or ids[n - 1] != tok.eos_token_id)][-1]
        assert r.reasoning_tokens == reasoning
        if r.unit == "tokens":
            assert r.prefix_tokens == int(np.floor(r.fraction * reasoning + 0.5))
        else:
            ends = [n + 1 for n in range(reasoning) if tok.decode([ids[n]]).endswith("\n\n")]
            ends += [] if ends and ends[-1] == reasoning else [reasoning]
            j = int(np.floor(r.fraction * len(ends) + 0.5))
            assert r.prefix_tokens == (ends[j - 1] if j else 0)
        x = torch.tensor([prompt[r.problem_id] + ids[:r.prefix_tokens]])
        y = junior.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=32,
                            eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)[0, x.shape[1]:].tolist()
        assert r.response_ids == y
        box = last_boxed(tok.decode(y, skip_special_tokens=True))
        ok = float(box is not None and box.text == solo[(r.problem_id, r.sample)]["gold"])
        assert r.reward == ok
        by_hand.setdefault(r.unit, {}).setdefault(r.problem_id, {})[r.fraction] = ok
    for unit, probs_ok in by_hand.items():
        curve = np.mean([[p[f] for f in GRID] for p in probs_ok.values()], axis=0)
        assert len(set(curve)) > 1  # the world's senior writes jargon: the junior fails from its prefixes
        got = s["metrics"][f"transfer_{unit}_accuracy"]["macro"]
        np.testing.assert_allclose(got["value"], curve)
        assert all(lo <= v + 1e-12 and v <= hi + 1e-12 for v, lo, hi in zip(got["value"], got["low"], got["high"]))
        assert s["metrics"][f"transfer_{unit}_auc"]["macro"]["value"] == pytest.approx(float(auc(curve, GRID)))
    assert s["cost"]["transfer"]["junior_tokens_written"] > 0 and s["cost"]["transfer"]["senior_tokens_written"] == 0
    assert s["cost"]["transfer"]["junior_forward_seconds"] > 0 and s["cost"]["transfer"]["senior_forward_seconds"] == 0
    assert s["cost"]["solo"]["senior_forward_seconds"] > 0 and s["cost"]["solo"]["junior_param_tokens"] == 0
    assert s["cost"]["solo"]["senior_tokens_written"] == sum(len(r["author"]) for r in solo.values())
    # --reuse reads the transfer records back: the same metrics without generating again
    again = evaluate(cfg, {"initial": "world:senior"}, junior="world:junior", base=None,
                     output_dir=tmp_path / "ev", progress=False, reuse=True)["labels"]["initial"]
    assert again["metrics"] == s["metrics"] and again["transfer_fractions"] == GRID


@pytest.mark.parametrize("name", ["tandem_rl.eval.transfer", "tandem_rl.report.cost", "tandem_rl.train.rollout"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
