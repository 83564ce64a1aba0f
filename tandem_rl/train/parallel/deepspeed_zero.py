"""DeepSpeed ZeRO (stages 1-3) through Accelerate: the backend, and the parts of DeepSpeed that differ from DDP.

The ``ZeRO`` backend keeps DDP's semantics (same sharding of prompts, lock-step backward passes, global loss
denominators, the ``x W`` loss scale, global skip decisions, world-size-free checkpoints); this file holds what
DeepSpeed does differently:

**Launch.** ``accelerate launch`` with a DeepSpeed config sets ``ACCELERATE_USE_DEEPSPEED=true`` (``requested``).
On CPUs Accelerate silently drops DeepSpeed for DDP when the Accelerator is made with ``cpu=True``, and without a
gloo process group each rank believes it is alone; ``accelerator_kwargs`` asks for both (the timeout is
DeepSpeed's own, ``DEEPSPEED_TIMEOUT`` minutes). ``configure`` completes the DeepSpeed config from the trainer's:
micro batch 1 (unused: no dataloader is prepared, Accelerate only needs a number), no accumulation of its own (the
trainer marks the boundary, below), clipping at ``train.grad_clip``; DeepSpeed's fp16/bf16 engines are refused
(precision is ``train.mixed_precision``: autocast over fp32 master weights, as for DDP/FSDP2).

**Update.** DeepSpeed's engine owns backward, clipping and the optimizer step. Our number of micro-batches per
mini-batch is data-dependent, so every pass sets the accumulation boundary itself (only the last pass of a
mini-batch is the boundary: ``ZeRO.sync``) and ``step`` calls ``engine.step()`` once per mini-batch: it clips at
``train.grad_clip`` and reports the pre-clip global norm, as ``clip_grad_norm_`` does for DDP. A non-finite global
norm makes DeepSpeed skip the step and clear the gradients on every rank (its overflow path); ``backward`` turns a
non-finite loss on any rank into that same case (the boundary backward is scaled by NaN on every rank), so all
skip decisions stay global without reaching into DeepSpeed's gradient buffers.

**Generation (ZeRO-3).** Parameters are partitioned and module hooks gather each layer around every forward: a
collective, while ranks decode different numbers of steps. ``full_weights`` gathers all parameters once (every
rank enters together) and removes the hooks while the body runs any number of forwards, then re-registers them;
``GatheredParameters`` alone deadlocks (the hooks still release and re-gather around each forward). ZeRO-1/2 keep
whole weights on every rank and need nothing.

**Checkpoints.** The same files as every other run: full weights (ZeRO-3: gathered, ``full_model_state``) and
``torch.optim``'s index-keyed AdamW state of the whole model, built from DeepSpeed's flat per-rank partitions with
its tensor-fragment API (``safe_get_full_optimizer_state``: a collective; ``safe_set_full_optimizer_state``: local).
So a run moves between 1 process, DDP, FSDP2 and any ZeRO stage at any world size.

deepspeed is imported only when a run asked for it.
"""

from __future__ import annotations

import contextlib
import math
import os

import torch

from tandem_rl.train.parallel.ddp import DDP
from tandem_rl.train.parallel.ranks import all_sum, world


def requested() -> bool:
    """The launcher asked for DeepSpeed (``accelerate launch`` with a DeepSpeed config)."""
    return os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"


def accelerator_kwargs() -> dict:
    """``Accelerator(**kwargs)`` for a DeepSpeed run: never ``cpu=True`` (that silently means DDP); gloo on CPUs."""
    try:
        from deepspeed.constants import default_pg_timeout  # DEEPSPEED_TIMEOUT (minutes), DeepSpeed's own knob
    except ImportError as err:
        raise ImportError("ACCELERATE_USE_DEEPSPEED=true but deepspeed is not installed: "
                          "DS_BUILD_OPS=0 pip install deepspeed (see docs/distributed.md)") from err
    if torch.cuda.is_available():
        return {"cpu": False}
    from accelerate.utils import InitProcessGroupKwargs

    return {"cpu": False, "kwargs_handlers": [InitProcessGroupKwargs(backend="gloo", timeout=default_pg_timeout)]}


def _auto(value) -> bool:
    return value is None or value == "auto"


def zero_stage(accelerator) -> int:
    """The ``zero_optimization.stage`` of the Accelerator's DeepSpeed config (0 when unset)."""
    return int(accelerator.state.deepspeed_plugin.deepspeed_config.get("zero_optimization", {}).get("stage", 0))


def configure(accelerator, train_cfg) -> int:
    """Complete / check the DeepSpeed config against the trainer's settings before ``prepare``; returns the stage."""
    ds = accelerator.state.deepspeed_plugin.deepspeed_config
    stage = zero_stage(accelerator)
    if stage not in (1, 2, 3):
        raise ValueError(f"DeepSpeed zero_optimization.stage {stage} is not supported: use 1, 2 or 3 "
                         f"(or DDP: configs/accelerate/ddp-2gpu.yaml)")
    for precision in ("fp16", "bf16"):
        if ds.get(precision, {}).get("enabled") not in (False, None):
            raise ValueError(f"DeepSpeed {precision} is not supported (it would train {precision} weights): set "
                             f"mixed_precision: 'no' in the Accelerate config and train.mixed_precision=bf16 for "
                             f"autocast over fp32 master weights")
    if ds.get("zero_optimization", {}).get("compute_grad_norm") is False:
        raise ValueError("DeepSpeed zero_optimization.compute_grad_norm=false: the trainer needs the gradient norm "
                         "(grad_norm metric, non-finite skips)")
    if _auto(ds.get("train_micro_batch_size_per_gpu")):
        ds["train_micro_batch_size_per_gpu"] = 1  # unused (no dataloader is prepared); Accelerate needs a number
    gas = ds.get("gradient_accumulation_steps")
    if not _auto(gas) and int(gas) != 1:
        raise ValueError(f"DeepSpeed gradient_accumulation_steps={gas}: leave it 'auto' or 1; the trainer "
                         f"accumulates over each mini-batch itself (train.mini_batches, train.micro_batch_tokens)")
    ds["gradient_accumulation_steps"] = 1
    clip = ds.get("gradient_clipping")
    if not _auto(clip) and float(clip) != float(train_cfg.grad_clip):
        raise ValueError(f"DeepSpeed gradient_clipping={clip} differs from train.grad_clip={train_cfg.grad_clip}: "
                         f"leave it 'auto' (the trainer sets it) or make them equal")
    ds["gradient_clipping"] = float(train_cfg.grad_clip)  # 0 = off, as for train.grad_clip
    return stage


@contextlib.contextmanager
def ordinary_loading(accelerator):
    """Load every model whole on every rank (no ``deepspeed.zero.Init``), as ``fsdp2.every_rank_loads_weights``.

    Accelerate registers its DeepSpeed config with transformers, and under ZeRO-3 ``from_pretrained`` then creates
    partitioned parameters: right for nothing here (the frozen junior/reference must be whole on every rank; the
    senior is partitioned by ``prepare``)."""
    plugin = getattr(getattr(accelerator, "state", None), "deepspeed_plugin", None)
    if plugin is None:
        yield
        return
    from transformers.integrations.deepspeed import set_hf_deepspeed_config, unset_hf_deepspeed_config

    unset_hf_deepspeed_config()
    try:
        yield
    finally:
        if getattr(plugin, "dschf", None) is not None:
            set_hf_deepspeed_config(plugin.dschf)


def backward(engine, loss: torch.Tensor, *, last: bool, finite: bool) -> None:
    """One pass's backward. Call ``engine.set_gradient_accumulation_boundary(last)`` before its forward.

    ``finite``: every loss of this mini-batch on this rank so far was finite. On the last pass (a collective) a
    non-finite loss on any rank scales every rank's boundary backward by NaN: the global gradient norm is then NaN
    and DeepSpeed skips the step and clears the gradients everywhere (``step`` reports it)."""
    if last and all_sum([0.0 if finite else 1.0])[0]:
        loss = loss * float("nan")
    engine.backward(loss, scale_wrt_gas=False)


def step(engine) -> float:
    """Clip (``gradient_clipping`` = train.grad_clip) and step; the pre-clip global gradient norm, equal on all
    ranks, non-finite when DeepSpeed skipped the step."""
    engine.step()
    norm = engine.get_global_grad_norm()
    return float("nan") if norm is None else float(norm)


# ---- ZeRO-3 generation ------------------------------------------------------------------------------------------

def is_zero3(model) -> bool:
    """ZeRO-3 partitioned parameters carry a ``ds_id``."""
    p = next(model.parameters(), None)
    return p is not None and hasattr(p, "ds_id")


@contextlib.contextmanager
def full_weights(model):
    """Whole ZeRO-3 weights on every rank for any number of forwards (no collectives); a collective to enter.
    ZeRO-1/2 weights are whole already: the body runs as it is."""
    if not is_zero3(model):
        yield model
        return
    import deepspeed

    params = list(model.parameters())
    offload = params[0]._z3_optimizer.parameter_offload  # owns the gather/release module hooks
    root = offload.module
    # the root's start-of-forward hook checks the recorded module order across ranks (a collective) whenever the
    # trace is being re-recorded, as it is after the hooks are registered again: it goes too, and comes back first
    start_hook = root._forward_pre_hooks[offload.fwd_pre_hook.id]
    with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
        for p in params:
            p.ds_active_sub_modules.clear()  # no module holds them: the gathered context releases them on exit
        for hook in [offload.fwd_pre_hook, *offload.forward_hooks, *offload.backward_hooks]:
            hook.remove()
        offload.forward_hooks.clear()
        offload.backward_hooks.clear()
        try:
            yield model
        finally:  # training forwards gather per layer again (DeepSpeed re-records its trace, all ranks together)
            offload.fwd_pre_hook = root.register_forward_pre_hook(start_hook)
            offload._register_deepspeed_module(root)


def full_model_state(model):
    """ZeRO-3: the full weights as a CPU state dict on rank 0, ``{}`` elsewhere (a collective: every rank calls);
    ZeRO-1/2: None (the module holds them whole: save it as it is)."""
    if not is_zero3(model):
        return None
    with full_weights(model):
        if world()[0] != 0:
            return {}
        # tied weights: one name (as FSDP2's full_model_state), else save_pretrained would write them twice
        own = {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if k in own}


# ---- checkpoints: torch.optim's index-keyed AdamW state ---------------------------------------------------------

def _trained(model, zero_opt) -> list:
    """The senior's parameters in the order of the single-process optimizer (one group over ``parameters()``)."""
    if len(zero_opt.optimizer.param_groups) != 1:
        raise ValueError(f"DeepSpeed optimizer has {len(zero_opt.optimizer.param_groups)} parameter groups; the "
                         f"trainer's checkpoints hold one (AdamW over the senior's parameters)")
    return [p for p in model.parameters() if p.requires_grad]


def _flat_partitions(zero_opt) -> list:
    """This rank's flat fp32 partitions, the tensors DeepSpeed's inner AdamW steps and keys its state by (ZeRO-3
    empties the AdamW's param_groups between steps, so they are not a reliable list)."""
    flats = getattr(zero_opt, "fp32_partitioned_groups_flat", None)  # ZeRO-3
    return list(flats if flats is not None else zero_opt.single_partition_of_fp32_groups)  # ZeRO-1/2


def _group(inner, n: int) -> list[dict]:
    g = inner.param_groups[0]
    return [{**{k: v for k, v in g.items() if k in inner.defaults}, "params": list(range(n))}]


def full_optimizer_state(model, zero_opt) -> dict:
    """``torch.optim`` AdamW ``state_dict()`` of the whole senior on rank 0, ``{}`` elsewhere (a collective)."""
    from deepspeed.utils import safe_get_full_optimizer_state

    params = _trained(model, zero_opt)
    inner = zero_opt.optimizer  # the torch AdamW, stepping DeepSpeed's flat fp32 partitions
    flat_states = [inner.state[f] for f in _flat_partitions(zero_opt) if f in inner.state]
    main = world()[0] == 0
    out = {"state": {}, "param_groups": _group(inner, len(params))}
    if not flat_states:  # no step taken yet (steps are global: the same on every rank)
        return out if main else {}
    step = flat_states[0]["step"]
    keys = [k for k, v in flat_states[0].items() if k != "step" and torch.is_tensor(v)]  # exp_avg, exp_avg_sq
    for i, p in enumerate(params):
        moments = {k: safe_get_full_optimizer_state(p, k) for k in keys}  # all ranks, same order
        if main:
            out["state"][i] = {"step": step.detach().clone().cpu(),
                               **{k: v.detach().cpu().clone() for k, v in moments.items()}}
    return out if main else {}


def load_optimizer_state(model, zero_opt, state: dict) -> None:
    """Load an index-keyed AdamW state saved by any run into a fresh engine (before its first step; local)."""
    from deepspeed.utils import safe_set_full_optimizer_state

    params = _trained(model, zero_opt)
    inner = zero_opt.optimizer
    groups = state["param_groups"]
    if len(groups) != 1 or len(groups[0]["params"]) != len(params):
        raise ValueError(f"checkpoint optimizer has {[len(g['params']) for g in groups]} parameters per group; "
                         f"the senior has one group of {len(params)}")
    if inner.state:
        raise RuntimeError("load_optimizer_state needs a fresh DeepSpeed optimizer (before its first step)")
    hyper = {k: v for k, v in groups[0].items() if k != "params"}
    for g in inner.param_groups:
        g.update(hyper)
    if not state["state"]:
        return
    first = next(iter(state["state"].values()))
    keys = [k for k in first if k != "step"]
    # DeepSpeed creates the AdamW moments at the first step; create them now (zeros) over its flat partitions...
    for flat in _flat_partitions(zero_opt):
        inner.state[flat] = {"step": first["step"].detach().clone(), **{k: torch.zeros_like(flat) for k in keys}}
    # ...let ZeRO-1/2 point each parameter's fragment at them (ZeRO-3 reads the flat state directly)...
    link = getattr(zero_opt, "_lazy_init_hp_params_optimizer_state", None)
    if link is not None:
        link()
    # ...and fill this rank's fragment of every parameter from the full tensors
    for i, p in enumerate(params):
        saved = state["state"].get(i)
        if saved is not None:  # a parameter that never had a gradient keeps zero moments
            for k in keys:
                safe_set_full_optimizer_state(p, saved[k], k)


class ZeRO(DDP):
    """DeepSpeed ZeRO stage 1, 2 or 3: ``accelerator.prepare`` builds the engine, which runs the gradient forwards,
    backward, clipping and the step; ranks, barrier and the junior's placement as for DDP."""

    def __init__(self, accelerator):
        super().__init__(accelerator)
        self.name = f"DeepSpeed ZeRO-{zero_stage(accelerator)}"

    def loading(self):
        return ordinary_loading(self.accelerator)  # ZeRO-3: the frozen models must load whole on every rank

    def _prepare(self, objs) -> None:
        # the engine runs gradient forwards (objs.policy); its module (objs.senior) runs generation and the no-grad
        # forwards; its ZeRO optimizer becomes objs.optimizer (param_groups are the torch AdamW's: lr is set as before)
        self.engine, _ = self.accelerator.prepare(objs.senior, objs.optimizer)
        objs.policy, objs.senior, objs.optimizer = self.engine, self.engine.module, self.engine.optimizer

    def gathered(self, model):
        return full_weights(model)

    @contextlib.contextmanager
    def sync(self, last: bool):
        self.engine.set_gradient_accumulation_boundary(last)  # only the last pass reduces and steps
        yield

    def backward(self, loss: torch.Tensor, *, last: bool, finite: bool) -> None:
        backward(self.engine, loss, last=last, finite=finite)

    def step(self, model, optimizer, *, finite: bool, grad_clip: float):
        # clips at train.grad_clip (the DeepSpeed config) and steps; a bad loss anywhere made the norm NaN: skipped
        norm = step(self.engine)
        return norm if math.isfinite(norm) else None

    def model_state(self, model):
        return full_model_state(model)

    def optimizer_state(self, model, optimizer) -> dict:
        return full_optimizer_state(model, optimizer)

    def load_optimizer_state(self, model, optimizer, state: dict) -> None:
        load_optimizer_state(model, optimizer, state)
