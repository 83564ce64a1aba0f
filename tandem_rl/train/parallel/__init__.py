"""How the senior is trained across processes: one backend object per run, chosen once by ``start``.

    backend = parallel.start(cfg)              # Single, DDP, FSDP2 or ZeRO, from what the launcher set
    objs = build(cfg, checkpoint, backend)     # loads under backend.loading(), then backend.wrap(objs)

The loop and the update call only the backend's methods (``single.py`` gives each one's plain meaning):

    rank, world, main, device       this process's place in the run
    junior_device(wanted)           where the frozen junior goes (data parallel: each rank's own device)
    loading()                       context around model loading
    wrap(objs)                      the senior wrapped for training (``objs.policy``); nothing else is wrapped
    gathered(model)                 context: whole weights for any number of no-grad forwards (generation)
    sync(last)                      context around one gradient pass (forward + backward) of a mini-batch
    backward(loss, last=, finite=)  that pass's backward
    step(model, optimizer, finite=, grad_clip=)   -> the pre-clip gradient norm, or None: the update is skipped
    model_state(model), optimizer_state(model, optimizer), load_optimizer_state(model, optimizer, state)
                                    checkpoints in one format whatever the backend and world size
    barrier()                       wait for every rank
    describe()                      one line, e.g. "FSDP2 (sharded senior) over 8 processes on cuda"

| backend | file | launched with |
|---|---|---|
| ``Single`` | ``single.py`` | a plain ``python`` / ``tandem-rl train`` (``WORLD_SIZE`` unset or 1) |
| ``DDP`` | ``ddp.py`` | ``accelerate launch`` / ``torchrun`` with ``WORLD_SIZE > 1`` |
| ``FSDP2`` | ``fsdp2.py`` | the same with an FSDP2 Accelerate config (``ACCELERATE_USE_FSDP=true``) |
| ``ZeRO`` | ``deepspeed_zero.py`` | the same with a DeepSpeed config (``ACCELERATE_USE_DEEPSPEED=true``), stage 1-3 |

``ranks.py`` holds what every backend shares: which prompt groups a rank owns, the global loss denominators and
the reductions over ranks (identities in one process). docs/distributed.md has the launch commands and the tests.
"""

from __future__ import annotations

import os

import torch

from tandem_rl.train.parallel import deepspeed_zero
from tandem_rl.train.parallel.ddp import DDP
from tandem_rl.train.parallel.deepspeed_zero import ZeRO
from tandem_rl.train.parallel.fsdp2 import FSDP2
from tandem_rl.train.parallel.ranks import launched_world_size
from tandem_rl.train.parallel.single import Single

__all__ = ["DDP", "FSDP2", "Single", "ZeRO", "backend_for", "start", "wrap_data_parallel"]


def start(cfg) -> Single:
    """The run's backend: ``Single`` unless the launcher started several processes; then an ``Accelerator`` (the
    process group) and the mode its config asks for. Rank 0 prints the choice (``data parallel: DDP over 2
    processes on cpu``)."""
    if launched_world_size() <= 1:
        return Single()
    from accelerate import Accelerator, DistributedDataParallelKwargs

    if deepspeed_zero.requested():  # never cpu=True: on CPUs that silently runs DDP instead
        acc = Accelerator(**deepspeed_zero.accelerator_kwargs())
        deepspeed_zero.configure(acc, cfg.train)
    else:
        # gradients as views into DDP's buckets: saves one full gradient copy (16 GB for a 4B fp32 senior)
        ddp = DistributedDataParallelKwargs(gradient_as_bucket_view=True)
        # without cpu=True Accelerate runs 1 process on CPUs
        acc = Accelerator(cpu=not torch.cuda.is_available(), kwargs_handlers=[ddp])
        _fsdp_on_cpu(acc)
    backend = backend_for(acc)
    if acc.num_processes != launched_world_size():
        raise RuntimeError(f"launched with WORLD_SIZE={launched_world_size()} but Accelerate sees "
                           f"{acc.num_processes} process(es)")
    if backend.main:
        print(f"data parallel: {backend.describe()}", flush=True)
    return backend


def backend_for(accelerator) -> Single:
    """The backend for an Accelerator's distributed type; FSDP version 1 and Megatron-LM are refused."""
    kind = str(getattr(accelerator, "distributed_type", "")).rsplit(".", 1)[-1]
    if kind == "FSDP" and not getattr(accelerator, "is_fsdp2", False):
        raise ValueError("accelerate FSDP version 1 is not supported: set fsdp_config.fsdp_version: 2 in the "
                         "Accelerate config (see configs/accelerate/fsdp2-8gpu.yaml)")
    if kind == "MEGATRON_LM":
        raise ValueError(f"accelerate distributed_type {kind} is not supported by the trainer: use DDP "
                         f"(configs/accelerate/ddp-2gpu.yaml), FSDP2 (configs/accelerate/fsdp2-8gpu.yaml) or "
                         f"DeepSpeed ZeRO (configs/accelerate/deepspeed-zero3-8gpu.yaml); see docs/distributed.md")
    return {"DEEPSPEED": ZeRO, "FSDP": FSDP2}.get(kind, DDP)(accelerator)


def wrap_data_parallel(objs, accelerator):
    """Wrap ``objs.senior`` for an existing Accelerator's data-parallel mode: ``backend_for(accelerator).wrap``."""
    return backend_for(accelerator).wrap(objs)


def _fsdp_on_cpu(acc) -> None:
    """Honour ``ACCELERATE_USE_FSDP=true`` (``accelerate launch --use_fsdp``, FSDP configs) on CPUs too.

    Accelerate only switches to FSDP on accelerators and silently runs DDP on CPU processes; torch's FSDP2 runs on
    CPUs over gloo, so the same sharded code path is used there (the CPU tests rely on it)."""
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    asked = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
    if asked and acc.device.type == "cpu" and acc.distributed_type == DistributedType.MULTI_CPU:
        acc.state.fsdp_plugin = FullyShardedDataParallelPlugin()  # reads the FSDP_* variables the launcher set
        acc.state.distributed_type = DistributedType.FSDP
