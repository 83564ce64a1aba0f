"""FSDP2 helpers in one process (a 1-rank gloo group): gathered weights for generation, checkpoint state layout.

The 2-process runs that train, save and resume with them are in test_train_distributed.py.
"""

import copy

import pytest
import torch

from tandem_rl.train.parallel import fsdp2 as sharding
from tiny import tiny_model, tiny_tokenizer


@pytest.fixture
def gloo_world(tmp_path):
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    torch.distributed.destroy_process_group()


def _shard(model):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (1,))
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh, reshard_after_forward=False)  # as Accelerate leaves the root
    return model


def _step(model, opt, ids):
    model(input_ids=ids, labels=ids).loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def _reshard_settings(model):
    return [g.post_forward_mesh_info is not None
            for u in sharding.fsdp_units(model) for g in u._get_fsdp_state()._fsdp_param_groups]


def test_unsharded_models_pass_through():
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    assert not sharding.is_sharded(model) and sharding.full_model_state(model) is None
    with sharding.full_weights(model) as m:
        assert m is model
    assert sharding.full_optimizer_state(model, opt) == opt.state_dict()


def test_full_weights_then_training_resumes_sharded(gloo_world):
    tok = tiny_tokenizer()
    plain = tiny_model(tok, seed=3)
    sharded = _shard(copy.deepcopy(plain))
    before = _reshard_settings(sharded)
    assert any(before) and not all(before)  # layers reshard after forward, the root does not
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with sharding.full_weights(sharded), torch.inference_mode():
        # any number of forwards, weights held (the engine decodes under inference mode)
        for n in range(3):
            torch.testing.assert_close(sharded(input_ids=ids[:, :n + 2]).logits, plain(input_ids=ids[:, :n + 2]).logits)
        assert not any(isinstance(p, torch.distributed.tensor.DTensor) for p in sharded.parameters())
    assert _reshard_settings(sharded) == before  # restored
    assert all(isinstance(p, torch.distributed.tensor.DTensor) for p in sharded.parameters())  # sharded again


def test_checkpoint_state_has_the_unsharded_layout(gloo_world):
    """Weights and AdamW states of a sharded model, gathered, equal those of the same training unsharded; loading
    them back into a fresh sharded optimizer continues identically."""
    tok = tiny_tokenizer()
    plain = tiny_model(tok, seed=4)
    sharded = _shard(copy.deepcopy(plain))
    opt_p = torch.optim.AdamW(plain.parameters(), lr=1e-2)
    opt_s = torch.optim.AdamW(sharded.parameters(), lr=1e-2)
    ids = torch.tensor([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]])
    for _ in range(2):
        _step(plain, opt_p, ids)
        _step(sharded, opt_s, ids)

    weights = sharding.full_model_state(sharded)
    own = dict(plain.named_parameters()).keys() | dict(plain.named_buffers()).keys()  # tied weights: one name
    assert weights.keys() == plain.state_dict().keys() & own
    for k, v in plain.state_dict().items():
        if k in weights:
            torch.testing.assert_close(weights[k], v)
    state = sharding.full_optimizer_state(sharded, opt_s)
    ref = opt_p.state_dict()
    assert state["param_groups"] == ref["param_groups"] and state["state"].keys() == ref["state"].keys()
    for i, s in ref["state"].items():
        for k, v in s.items():
            torch.testing.assert_close(state["state"][i][k], v)

    # resume: a fresh sharded model + optimizer loaded from the gathered state continues like the plain run
    fresh = _shard(copy.deepcopy(plain))
    opt_f = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    sharding.load_optimizer_state(fresh, opt_f, state)
    _step(plain, opt_p, ids)
    _step(fresh, opt_f, ids)
    after = sharding.full_model_state(fresh)
    for k, v in plain.state_dict().items():
        if k in after:
            torch.testing.assert_close(after[k], v)


def test_no_step_yet_saves_and_loads_an_empty_state(gloo_world):
    """Before any optimizer step the saved state is empty (not a zero-gradient step with step count 1)."""
    tok = tiny_tokenizer()
    sharded = _shard(tiny_model(tok, seed=5))
    opt = torch.optim.AdamW(sharded.parameters(), lr=1e-2)
    state = sharding.full_optimizer_state(sharded, opt)
    assert state["state"] == {} and not opt.state
    assert state["param_groups"][0]["params"] == list(range(len(list(sharded.parameters()))))
    fresh = torch.optim.AdamW(sharded.parameters(), lr=5.0)
    sharding.load_optimizer_state(sharded, fresh, state)
    assert fresh.param_groups[0]["lr"] == 1e-2 and not fresh.state
