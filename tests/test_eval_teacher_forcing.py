"""Teacher-forced CE / KL / argmax against a direct per-position computation (no cache, explicit loops)."""

import math

import numpy as np
import pytest
import torch

from tandem_rl.eval.displacement import Displacement, displacement_counts
from tandem_rl.eval.teacher_forcing import pack_rows, score_texts
from tandem_rl.eval.text_checks import faithfulness, load_step_checker, notation_flags
from tests.tiny import tiny_model, tiny_tokenizer


@pytest.fixture(scope="module")
def setup():
    tok = tiny_tokenizer()
    a = tiny_model(tok, seed=0)
    b = tiny_model(tok, seed=1, arch="qwen3", hidden=32)
    with torch.no_grad():  # flatter distributions than the fixture's peaked init, so KLs are far from 0
        for m in (a, b):
            m.get_input_embeddings().weight.mul_(0.1)
    prompts = [tok("Tom has 12 apples")["input_ids"], tok("Let x")["input_ids"], tok("12")["input_ids"]]
    responses = [tok(" and buys 7 more.")["input_ids"], tok(" be 4.")["input_ids"], []]
    return tok, a, b, prompts, responses


def direct(model, prefix):
    """Next-token log-probs after ``prefix``: a fresh forward of the whole prefix, last position only."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prefix]), use_cache=False).logits[0, -1].double()
    return torch.log_softmax(logits, -1)


def test_ce_kl_top_match_direct_loops(setup):
    tok, a, b, prompts, responses = setup
    s = score_texts({"a": a, "b": b}, prompts, responses, ce=["a", "b"], kl=[("a", "b"), ("b", "a")],
                    top=["a"], token_budget=24, pad_token_id=tok.pad_token_id)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        assert len(s.ce["a"][i]) == len(r) == len(s.kl[("a", "b")][i]) == len(s.top["a"][i])
        for t in range(len(r)):
            la, lb = direct(a, p + r[:t]), direct(b, p + r[:t])
            assert s.ce["a"][i][t] == pytest.approx(-la[r[t]].item(), abs=1e-4)
            assert s.ce["b"][i][t] == pytest.approx(-lb[r[t]].item(), abs=1e-4)
            kl_ab = sum(math.exp(la[v]) * (la[v] - lb[v]) for v in range(len(la))).item()
            kl_ba = sum(math.exp(lb[v]) * (lb[v] - la[v]) for v in range(len(lb))).item()
            assert s.kl[("a", "b")][i][t] == pytest.approx(kl_ab, rel=1e-3, abs=1e-4)
            assert s.kl[("b", "a")][i][t] == pytest.approx(kl_ba, rel=1e-3, abs=1e-4)
            assert s.top["a"][i][t] == int(la.argmax())
    assert s.kl[("a", "b")][0].min() > 1e-3  # two different random models


def test_kl_of_a_model_with_itself_is_zero_and_batching_does_not_matter(setup):
    tok, a, _, prompts, responses = setup
    one = score_texts({"a": a, "a2": a}, prompts, responses, ce=["a"], kl=[("a", "a2")], token_budget=1)
    big = score_texts({"a": a, "a2": a}, prompts, responses, ce=["a"], kl=[("a", "a2")], token_budget=10_000)
    for i in range(len(prompts)):
        np.testing.assert_allclose(one.ce["a"][i], big.ce["a"][i], atol=1e-4)
        np.testing.assert_allclose(one.kl[("a", "a2")][i], 0.0, atol=1e-6)


def test_errors_name_the_problem(setup):
    tok, a, _, prompts, responses = setup
    with pytest.raises(KeyError, match="junior"):
        score_texts({"a": a}, prompts, responses, ce=["junior"])
    with pytest.raises(ValueError, match="empty prompt"):
        score_texts({"a": a}, [[]], [[1]], ce=["a"])


def test_pack_rows_respects_budget():
    lengths = [3, 10, 4, 9, 1, 30]
    batches = pack_rows(lengths, token_budget=20)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 20


def test_displacement_on_constructed_example():
    base = np.array([3, 4, 5, 6, 7])
    grpo = np.array([3, 9, 9, 6, 1])
    tandem = np.array([3, 4, 8, 6, 7])
    d = displacement_counts(base, grpo, tandem)
    assert d == Displacement(positions=5, displaced=3, returned=2) and d.share == pytest.approx(2 / 3)
    # a tandem top token that returns where GRPO never moved does not count
    assert displacement_counts([1, 2], [1, 2], [5, 2]).displaced == 0
    with pytest.raises(ValueError):
        displacement_counts([1], [1, 2], [1, 2])


def test_notation_and_faithfulness():
    assert notation_flags(["<<2*3=6>> so 6", "2 times 3 is 6", "x >> y"], r"<<|>>") == [True, False, True]
    with pytest.raises(ValueError, match="notation_regex"):
        notation_flags(["a"], "(")
    assert faithfulness((3, 0), True).all_true and not faithfulness((3, 0), True).correct_with_false_step
    f = faithfulness((3, 1), True)
    assert not f.all_true and f.correct_with_false_step
    assert not faithfulness((3, 1), False).correct_with_false_step
    with pytest.raises(ValueError):
        faithfulness((1, 2), True)
    assert load_step_checker("math:gcd") is math.gcd and load_step_checker(None) is None
    with pytest.raises(ValueError, match="module:function"):
        load_step_checker("math.gcd")
