"""FSDP2 (sharded senior): the backend, gathered weights for generation, and sharding-free checkpoints.

With FSDP2 each rank holds 1/W of the senior's weights, gradients and AdamW states; a forward pass all-gathers each
layer's weights and frees them again. Two things in tandem RL do not fit that pattern:

**Generation.** Every decoding step is a forward pass, and ranks decode different numbers of steps (rows finish
at different lengths), so per-layer all-gathers would leave ranks waiting on collectives the others never call.
``full_weights(senior)`` all-gathers every FSDP unit once (one collective, all ranks together), keeps the full
weights through any number of forwards (no collectives), and frees them on exit. Rollouts, the periodic evaluation
and the no-grad old log-prob pass run inside it (``FSDP2.gathered``). Memory: the full senior (in FSDP's compute
dtype) is resident while it is open, as with DDP; the gradients and AdamW states stay sharded, which is where FSDP
saves the most.

**Checkpoints.** The saved files are the same whatever the sharding or world size: an HF folder with the full
weights and ``optimizer.state_dict()`` in ``torch.optim``'s own index-keyed layout. Sharded runs gather both on
rank 0 (``full_model_state``, ``full_optimizer_state``) and scatter them back on resume
(``load_optimizer_state``), so a run can move between 1 process, DDP, FSDP2 and DeepSpeed ZeRO at any world size.
The functions here pass an unsharded model through unchanged.

Gradient sync: FSDP2 reduce-scatters after every backward (no ``no_sync``), so memory stays sharded; the ``x W``
loss scale undoes its mean over ranks as for DDP.

Index-keyed (``torch.optim``) and name-keyed (``torch.distributed.checkpoint``) optimizer states, converted by
position in the optimizer's parameter list:

    >>> by_index = {"state": {0: {"step": 1}, 1: {"step": 1}}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}
    >>> by_name = index_to_names(by_index, ["a.weight", "b.weight"])
    >>> by_name["state"]["b.weight"], by_name["param_groups"][0]["params"]
    ({'step': 1}, ['a.weight', 'b.weight'])
    >>> names_to_index(by_name) == by_index
    True
"""

from __future__ import annotations

import contextlib
import os

from tandem_rl.train.parallel.ddp import DDP


def fsdp_units(model) -> list:
    """The model's FSDP2 units (modules given to ``fully_shard``); empty for an unsharded model."""
    try:
        from torch.distributed.fsdp import FSDPModule
    except ImportError:  # torch without FSDP2
        return []
    return [m for m in model.modules() if isinstance(m, FSDPModule)]


def is_sharded(model) -> bool:
    return bool(fsdp_units(model))


@contextlib.contextmanager
def full_weights(model):
    """Hold the FSDP2 model's full weights for the body (any number of forwards, no collectives); no-op otherwise.

    Entering is a collective (every rank must enter together); the reshard-after-forward setting of every unit
    is restored on exit, so training forwards behave exactly as before."""
    units = fsdp_units(model)
    if not units:
        yield model
        return
    # FSDP2 has no public getter for reshard_after_forward: keep each param group's own setting and restore it
    saved = [(g, g.post_forward_mesh_info) for u in units for g in u._get_fsdp_state()._fsdp_param_groups]
    auto = [(u, u._get_fsdp_state()._auto_reshard_after_forward) for u in units]
    for u in units:
        u.set_reshard_after_forward(False, recurse=False)
        u.unshard()
    try:
        yield model
    finally:
        for u in units:
            u.reshard()
        for g, info in saved:
            g.post_forward_mesh_info = info
        for u, flag in auto:
            u._get_fsdp_state()._auto_reshard_after_forward = flag


def _options():
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True)


def full_model_state(model):
    """Full (unsharded) CPU state dict on rank 0 and ``{}`` elsewhere for a sharded model (a collective: every rank
    calls it); ``None`` for an unsharded model (save it as it is)."""
    if not is_sharded(model):
        return None
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    state = get_model_state_dict(model, options=_options())
    # tied weights come back under both names as separate copies, which save_pretrained would then write twice
    own = {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}
    return {k: v for k, v in state.items() if k in own}


def param_names(model, optimizer) -> list[str]:
    """Names of the optimizer's parameters in its own order (the positions of the index-keyed state)."""
    name_of = {id(p): n for n, p in model.named_parameters()}
    return [name_of[id(p)] for g in optimizer.param_groups for p in g["params"]]


def index_to_names(state: dict, names: list[str]) -> dict:
    """``torch.optim`` state (keys 0..N-1) -> state keyed by parameter name."""
    groups = [{**g, "params": [names[i] for i in g["params"]]} for g in state["param_groups"]]
    return {"state": {names[i]: s for i, s in state["state"].items()}, "param_groups": groups}


def names_to_index(state: dict) -> dict:
    """Name-keyed state -> ``torch.optim`` state; positions follow the param groups' own order."""
    order = [n for g in state["param_groups"] for n in g["params"]]
    pos = {n: i for i, n in enumerate(order)}
    groups = [{**g, "params": [pos[n] for n in g["params"]]} for g in state["param_groups"]]
    return {"state": {pos[n]: s for n, s in state["state"].items()}, "param_groups": groups}


def full_optimizer_state(model, optimizer) -> dict:
    """``optimizer.state_dict()`` of the whole model, index-keyed, on rank 0 (``{}`` on other ranks when sharded;
    a collective then)."""
    if not is_sharded(model) or not optimizer.state:
        # no step taken yet (every rank alike): torch.distributed.checkpoint would initialise the states with a
        # zero-gradient step, which sets AdamW's step count to 1 and changes the next update's bias correction
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    state = get_optimizer_state_dict(model, optimizer, options=_options())
    return names_to_index(state) if state else {}


def load_optimizer_state(model, optimizer, state: dict) -> None:
    """Load an index-keyed optimizer state saved by any run (1 process, DDP, FSDP2 or DeepSpeed, any world size)."""
    if not is_sharded(model) or not state["state"]:
        optimizer.load_state_dict(state)  # index-keyed positions are the same parameters, sharded or not
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    named = index_to_names(state, param_names(model, optimizer))
    set_optimizer_state_dict(model, optimizer, named, options=StateDictOptions(full_state_dict=True))


@contextlib.contextmanager
def every_rank_loads_weights():
    """With Accelerate's ``fsdp_cpu_ram_efficient_loading`` some transformers versions give ranks other than 0
    empty weights, to be filled by FSDP from rank 0. Only the senior is sharded: the frozen junior and reference
    (and the senior copy they may start from) need real weights on every rank, so all loading is ordinary."""
    key = "FSDP_CPU_RAM_EFFICIENT_LOADING"
    old = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if old is None:
            del os.environ[key]
        else:
            os.environ[key] = old


class FSDP2(DDP):
    """The senior sharded with FSDP2 (Accelerate applies ``fully_shard`` per layer); ranks, barrier and the
    junior's placement as for DDP."""

    name = "FSDP2 (sharded senior)"

    def loading(self):
        return every_rank_loads_weights()

    def _prepare(self, objs) -> None:
        # prepare(senior, optimizer) re-points the optimizer at the sharded parameters; the senior *is* the sharded
        # module (generation and no-grad forwards run inside full_weights)
        policy, wrapped = self.accelerator.prepare(objs.senior, objs.optimizer)
        objs.senior = objs.policy = policy
        objs.optimizer = getattr(wrapped, "optimizer", wrapped)  # the torch AdamW, now over the sharded parameters

    def gathered(self, model):
        return full_weights(model)

    def sync(self, last: bool):
        return contextlib.nullcontext()  # FSDP2 reduce-scatters after every backward: memory stays sharded

    def model_state(self, model):
        return full_model_state(model)

    def optimizer_state(self, model, optimizer) -> dict:
        return full_optimizer_state(model, optimizer)

    def load_optimizer_state(self, model, optimizer, state: dict) -> None:
        load_optimizer_state(model, optimizer, state)
