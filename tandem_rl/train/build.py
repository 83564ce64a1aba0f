"""Everything a run holds in memory, created in one function: models, tokenizer, optimizer.

``build`` loads the models under the run's backend (``parallel/``) and lets it wrap the senior, which nothing else
wraps. The junior and the reference are frozen (``requires_grad_(False)``, eval mode): they never get gradients, an
optimizer or a wrapper. Self-paired runs (``model.junior: null``) use one frozen copy of the *initial* senior as
both junior and reference, also on resume (it is reloaded from ``model.senior``, not from the checkpoint).

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
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from tandem_rl.cogen import schedules
from tandem_rl.models import freeze, load_junior_tokenizer, load_model, load_tokenizer, resolve_device, resolve_dtype
from tandem_rl.train.config import TrainConfig
from tandem_rl.train.parallel import Single


@dataclass
class TrainObjects:
    senior: torch.nn.Module
    junior: Optional[torch.nn.Module]      # None when the schedule never needs it (solo, no junior KL)
    reference: Optional[torch.nn.Module]   # None when grpo.beta == 0
    tokenizer: object
    optimizer: torch.optim.Optimizer
    device: torch.device
    policy: Optional[torch.nn.Module] = None  # what gradient forwards call: the senior as the backend wrapped it
    parallel: Single = dataclasses.field(default_factory=Single)  # the run's backend (train/parallel/)
    junior_tokenizer: object = None  # the junior's own tokenizer when it differs (cogen/crosstok.py), else None


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
    """The junior is loaded only when the rollout schedule uses it, the junior KL is on, or validation hands off to
    it (``train.eval_schedule``). This is the one place outside the engine that reads the schedule: vanilla GRPO
    (``solo``) with solo validation then skips loading an unused model."""
    handoff_validation = cfg.train.eval_every > 0 and schedules.get(cfg.train.eval_schedule).junior_runs
    return schedules.get(cfg.rollout.schedule).junior_runs or cfg.grpo.lambda_jun > 0 or handoff_validation


def autocast_factory(cfg, device: torch.device):
    """A zero-argument callable returning the autocast context for rollouts and updates."""
    if cfg.train.mixed_precision == "bf16":
        return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def build(cfg, checkpoint: Optional[Path] = None, parallel: Optional[Single] = None) -> TrainObjects:
    """Load tokenizer, senior (from ``checkpoint`` when resuming), frozen junior/reference; create AdamW; wrap the
    senior with ``parallel`` (the run's backend; default: one process)."""
    parallel = parallel or Single()
    if not cfg.model.senior:
        raise ValueError("model.senior is empty: set it to a model folder, hub name or world:senior")
    m = dataclasses.replace(cfg.model, junior_device=parallel.junior_device(cfg.model.junior_device))
    device = parallel.device or resolve_device(m.device)
    with parallel.loading():
        objs = _build(dataclasses.replace(cfg, model=m), checkpoint, device)
    return parallel.wrap(objs)


def _build(cfg, checkpoint, device) -> TrainObjects:
    m = cfg.model
    tok = load_tokenizer(m.tokenizer or m.senior)
    junior_tok = load_junior_tokenizer(m.junior, tok) if needs_junior(cfg) else None
    if junior_tok is not None:
        check_cross_tokenizer(cfg)  # before any model loads
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
                        device=device, junior_tokenizer=junior_tok)


def check_cross_tokenizer(cfg) -> None:
    """The settings a junior with its own tokenizer cannot serve (docs/engine.md, 'Pairs with different
    tokenizers'): the junior KL compares the two models token by token; static decoding is lockstep-only."""
    if cfg.grpo.lambda_jun > 0:
        raise ValueError(f"grpo.lambda_jun={cfg.grpo.lambda_jun}: the junior KL needs the junior's log-prob of each "
                         f"senior token, which a junior with another tokenizer ({cfg.model.junior}) does not have; "
                         "set grpo.lambda_jun=0 or use a junior with the senior's tokenizer")
    if cfg.rollout.decode != "dynamic":
        raise ValueError(f"rollout.decode={cfg.rollout.decode!r} needs one vocabulary; the junior "
                         f"{cfg.model.junior} has its own tokenizer: use rollout.decode=dynamic")
