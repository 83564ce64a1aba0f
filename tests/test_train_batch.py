"""Rollouts -> padded tensors: the docstring example, padding-invariant log-probs, micro-batch planning."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_rl.cogen.rollouts import Rollouts
from tandem_rl.train.batch import collate, plan_micro_batches
from tandem_rl.train.logprobs import response_logits, split_rows, token_logprobs
from tiny import tiny_model, tiny_tokenizer


def _rollouts(prompts, responses, authors):
    return Rollouts(prompts, responses, [np.array(a, np.uint8) for a in authors],
                    [np.full(len(r), -0.5, np.float32) for r in responses],
                    [np.full(len(r), np.nan, np.float32) for r in responses], ["eos"] * len(prompts))


def test_docstring_example():
    r = _rollouts([[5, 6], [9]], [[7, 8], [4]], [[1, 0], [1]])
    b = collate(r, [0, 1], [0.5, -1.0], pad_id=0)
    assert b.input_ids.tolist() == [[5, 6, 7, 8], [0, 9, 4, 0]]
    assert b.attention_mask.tolist() == [[1, 1, 1, 1], [0, 1, 1, 0]]
    assert b.position_ids.tolist() == [[0, 1, 2, 3], [0, 0, 1, 1]]
    assert b.targets.tolist() == [[7, 8], [4, 0]]
    assert b.response_mask.tolist() == [[True, True], [True, False]]
    assert b.loss_mask.tolist() == [[True, False], [True, False]]
    assert b.junior_mask.tolist() == [[False, True], [False, False]]
    assert b.advantages.tolist() == [0.5, -1.0]
    assert b.sampled_logprob.tolist() == [[-0.5, -0.5], [-0.5, 0.0]]
    assert b.old_logprob is None and b.ref_logprob is None


def test_padded_logprobs_equal_unpadded_single_rows():
    """Left-padded prompts + position ids give each row the same log-probs as running it alone."""
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=3)
    prompts = [tok.encode("Tom has 12 apples"), tok.encode("Let x")]
    responses = [tok.encode(" and buys 7 more."), tok.encode(" be 4. Then 2x + 3 = 11")]
    r = _rollouts(prompts, responses, [[1] * len(x) for x in responses])
    batch = collate(r, [0, 1], [1.0, 1.0], pad_id=tok.pad_token_id)
    with torch.no_grad():
        lp = token_logprobs(response_logits(model, batch, len(tok)), batch.targets, 0.7)
    rows = split_rows(lp, batch)
    for i in range(2):
        ids = torch.tensor([prompts[i] + responses[i]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, len(prompts[i]) - 1:-1, :len(tok)]
        ref = torch.log_softmax(logits / 0.7, -1).gather(-1, torch.tensor(responses[i])[:, None])[:, 0]
        assert np.allclose(rows[i], ref.numpy(), atol=1e-5)
        assert len(rows[i]) == len(responses[i])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20), st.integers(0, 30)), min_size=1, max_size=12), st.integers(8, 120))
def test_micro_batches_cover_rows_once_and_fit_budget(shapes, budget):
    r = _rollouts([[1] * p for p, _ in shapes], [[2] * n for _, n in shapes], [[1] * n for _, n in shapes])
    rows = list(range(len(shapes)))
    plan = plan_micro_batches(r, rows, budget)
    assert sorted(i for mb in plan for i in mb) == rows
    for mb in plan:
        size = len(mb) * (max(shapes[i][0] for i in mb) + max(shapes[i][1] for i in mb))
        assert size <= budget or len(mb) == 1
