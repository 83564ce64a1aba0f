"""Everything a run holds in memory, created in one function: models, tokenizer, optimizer.

Data parallelism (Accelerate DDP, FSDP2 or DeepSpeed ZeRO) wraps the senior here (``wrap_data_parallel``) and
nowhere else. The junior and the reference are frozen (``requires_grad_(False)``, eval mode): they never get
gradients, an optimizer or a wrapper. Self-paired runs (``model.junior: null``) use one frozen copy of the *initial*
senior as both junior and reference, also on resume (it is reloaded from ``model.senior``, not from the checkpoint).

Learning rate: ``lr_at(step)`` is a pure function of the training step (linear warmup, then constant or cosine);
the optimizer's lr is set from it before each step, so the schedule needs no state of its own.

    >>> from tandem_rl.train.config import TrainConfig
    >>> c = TrainConfig(lr=1.0, steps=11, warmup_steps=2, lr_schedule="cosine")
    >>> [round(lr_at(s, c), 3) for s in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from tandem_rl.models import freeze, load_model, load_tokenizer, resolve_device, resolve_dtype
from tandem_rl.train.config import TrainConfig


@dataclass
class TrainObjects:
    senior: torch.nn.Module
    junior: Optional[torch.nn.Module]      # None when the schedule never needs it (solo, no junior KL)
    reference: Optional[torch.nn.Module]   # None when grpo.beta == 0
    tokenizer: object
    optimizer: torch.optim.Optimizer
    device: torch.device
    policy: Optional[torch.nn.Module] = None  # what gradient forwards call: the DDP-wrapped senior, else the senior
    accelerator: Optional[object] = None      # accelerate.Accelerator when data parallel (WORLD_SIZE > 1)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for training step ``step`` (0-based): warmup ``(step + 1) / warmup``, then the schedule."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.lr
    span = max(1, cfg.steps - 1 - cfg.warmup_steps)
    frac = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * frac))


def needs_junior(cfg) -> bool:
    """The junior is loaded only when the rollout schedule uses it or the junior KL is on. This is the one place
    outside the engine that reads the schedule: vanilla GRPO (``solo``) then skips loading an unused model."""
    return cfg.rollout.schedule != "solo" or cfg.grpo.lambda_jun > 0


def autocast_factory(cfg, device: torch.device):
    """A zero-argument callable returning the autocast context for rollouts and updates."""
    if cfg.train.mixed_precision == "bf16":
        return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


@contextlib.contextmanager
def _every_rank_loads_weights():
    """With Accelerate's ``fsdp_cpu_ram_efficient_loading`` some transformers versions give ranks other than 0
    empty weights, to be filled by FSDP from rank 0. Only the senior is sharded: the frozen junior and reference
    (and the senior copy they may start from) need real weights on every rank, so all loading here is ordinary."""
    import os

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


def build(cfg, checkpoint: Optional[Path] = None, *, device: Optional[torch.device] = None) -> TrainObjects:
    """Load tokenizer, senior (from ``checkpoint`` when resuming), frozen junior/reference; create AdamW.

    ``device`` overrides ``model.device`` (data parallel: each rank's own device)."""
    m = cfg.model
    if not m.senior:
        raise ValueError("model.senior is empty: set it to a model folder, hub name or world:senior")
    device = device if device is not None else resolve_device(m.device)
    with _every_rank_loads_weights():
        return _build(cfg, checkpoint, device)


def _build(cfg, checkpoint, device) -> TrainObjects:
    m = cfg.model
    tok = load_tokenizer(m.tokenizer or m.senior)
    senior = load_model(str(checkpoint) if checkpoint else m.senior, dtype=m.dtype, device=str(device))
    base = None  # frozen initial senior, shared by a self-paired junior and the reference
    want_base = cfg.grpo.beta > 0 or (needs_junior(cfg) and m.junior is None)
    if want_base:
        frozen_dtype = (m.junior_dtype or m.dtype) if m.junior is None and needs_junior(cfg) else m.dtype
        base = copy.deepcopy(senior).to(resolve_dtype(frozen_dtype)) if checkpoint is None else \
            load_model(m.senior, dtype=frozen_dtype, device=str(device))
        if m.junior_device and m.junior is None:
            base = base.to(resolve_device(m.junior_device))
        freeze(base)
    junior = None
    if needs_junior(cfg):
        junior = base if m.junior is None else freeze(
            load_model(m.junior, dtype=m.junior_dtype or m.dtype, device=m.junior_device or str(device)))
    reference = base if cfg.grpo.beta > 0 else None
    if m.gradient_checkpointing:
        # transformers 5.x renamed it; older versions only have the first name
        enable = getattr(senior, "activation_checkpointing_enable", None) or senior.gradient_checkpointing_enable
        enable()
        senior.config.use_cache = False
    senior.train()
    t = cfg.train
    optimizer = torch.optim.AdamW(senior.parameters(), lr=lr_at(0, t), betas=(t.adam_beta1, t.adam_beta2),
                                  eps=t.adam_eps, weight_decay=t.weight_decay)
    return TrainObjects(senior=senior, junior=junior, reference=reference, tokenizer=tok, optimizer=optimizer,
                        device=device, policy=senior)


def wrap_data_parallel(objs: TrainObjects, accelerator) -> TrainObjects:
    """Wrap the senior for data-parallel training through Accelerate; nothing else is wrapped.

    - DDP (``accelerator.prepare_model``): the optimizer keeps the senior's own parameters, and the engine and the
      no-grad forwards use the plain module (``objs.senior`` = ``accelerator.unwrap_model(objs.policy)``).
    - FSDP2 (``accelerator.prepare(senior, optimizer)``, which re-points the optimizer at the sharded parameters):
      the senior *is* the sharded module; generation and no-grad forwards run inside ``sharding.full_weights``.
    - DeepSpeed ZeRO 1/2/3 (``deepspeed_zero.wrap``): the engine runs gradient forwards, backward and the step;
      ``objs.senior`` is its module (ZeRO-3: used inside ``sharding.full_weights``).
    - FSDP1 and Megatron-LM are refused with a clear error (see docs/distributed.md).

    The junior and the reference stay frozen, unwrapped and outside the optimizer."""
    kind = str(getattr(accelerator, "distributed_type", "")).rsplit(".", 1)[-1]
    if kind == "FSDP" and not getattr(accelerator, "is_fsdp2", False):
        raise ValueError("accelerate FSDP version 1 is not supported: set fsdp_config.fsdp_version: 2 in the "
                         "Accelerate config (see configs/accelerate/fsdp2-8gpu.yaml)")
    if kind == "MEGATRON_LM":
        raise ValueError(f"accelerate distributed_type {kind} is not supported by the trainer: use DDP "
                         f"(configs/accelerate/ddp-2gpu.yaml), FSDP2 (configs/accelerate/fsdp2-8gpu.yaml) or "
                         f"DeepSpeed ZeRO (configs/accelerate/deepspeed-zero3-8gpu.yaml); see docs/distributed.md")
    if kind == "DEEPSPEED":
        from tandem_rl.train import deepspeed_zero

        deepspeed_zero.wrap(objs, accelerator)
        policy = objs.policy
    elif kind == "FSDP":
        policy, wrapped = accelerator.prepare(objs.senior, objs.optimizer)
        objs.senior = policy
        objs.optimizer = getattr(wrapped, "optimizer", wrapped)  # the torch AdamW, now over the sharded parameters
    else:
        policy = accelerator.prepare_model(objs.senior, device_placement=False)
        objs.senior = accelerator.unwrap_model(policy)
    objs.policy, objs.accelerator = policy, accelerator
    frozen = [x for x in (objs.junior, objs.reference) if x is not None]
    trained = {id(p) for g in objs.optimizer.param_groups for p in g["params"]}
    for model in frozen:
        assert model is not policy and not any(p.requires_grad or id(p) in trained or hasattr(p, "ds_id")
                                               for p in model.parameters()), \
            "the junior/reference must stay frozen and outside the optimizer"
    return objs
