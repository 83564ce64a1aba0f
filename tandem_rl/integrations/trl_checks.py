"""What the TRL adapter supports, and a clear error for everything else (read before anything runs).

- **TRL version**: the adapter reads ``GRPOTrainer``'s ``rollout_func`` hook, an experimental API that TRL says "may
  change or be removed at any time". It is tested against TRL 1.16.0 only, so any other minor version is refused
  (``pip install -e ".[trl]"`` installs the supported one).
- **Sharded seniors** (DeepSpeed ZeRO-3, FSDP of any version, Megatron-LM): the engine decodes with whole weights.
  tandem-rl's own trainer gathers them for generation (docs/distributed.md); through TRL that path is untested,
  so it is refused. DDP and DeepSpeed ZeRO-1/2 keep whole weights on every rank and are accepted.
- **vLLM, tools, environments, vision-language processors**: TRL would then run its own generation server, tool
  loop or image pipeline on top of (or instead of) our rollouts; refused.
- **The junior**: it must not be the model being trained (no shared parameters), or "frozen" would be false.

    >>> check_trl_version("1.16.0")
    '1.16.0'
    >>> check_trl_version("1.17.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ImportError: tandem_rl.integrations.trl supports trl>=1.16,<1.17 (TRL 1.16.x); found trl 1.17.0. Install ...
"""

from __future__ import annotations

import re

TRL_SPEC = "trl>=1.16,<1.17"  # keep equal to the `trl` extra in pyproject.toml
TRL_MINOR = (1, 16)
INSTALL = f'pip install -e ".[trl]"  (or pip install "{TRL_SPEC}")'


def check_trl_version(found: str | None = None) -> str:
    """The installed TRL version (or ``found``); ``ImportError`` naming the supported range when it is outside it."""
    from importlib.metadata import PackageNotFoundError, version

    if found is None:
        try:
            found = version("trl")
        except PackageNotFoundError:
            raise ImportError(f"tandem_rl.integrations.trl needs TRL ({TRL_SPEC}), which is not installed. "
                              f"Install it with: {INSTALL}") from None
    # the release's major.minor only, so 1.17 pre-releases and dev builds ("1.17.0.dev0") are refused as well
    release = re.match(r"(\d+)\.(\d+)(?:\.\d+)*(?:\.post\d+)?$", found.strip())
    if release is None or (int(release.group(1)), int(release.group(2))) != TRL_MINOR:
        raise ImportError(f"tandem_rl.integrations.trl supports {TRL_SPEC} (TRL {TRL_MINOR[0]}.{TRL_MINOR[1]}.x); "
                          f"found trl {found}. Install the supported version with: {INSTALL}")
    return found


def sharding_of(trainer) -> str | None:
    """A name for the senior's sharding when its weights are not whole on this rank, else ``None``.

    Reads Accelerate's distributed type and, as a second guard, the parameters themselves (ZeRO-3 partitioned
    parameters carry ``ds_id``; FSDP2 parameters are DTensors)."""
    acc = trainer.accelerator
    kind = str(getattr(acc, "distributed_type", "")).rsplit(".", 1)[-1]
    if kind == "FSDP":
        return "FSDP"
    if kind == "MEGATRON_LM":
        return "Megatron-LM"
    if kind == "DEEPSPEED":
        plugin = getattr(getattr(acc, "state", None), "deepspeed_plugin", None)
        if getattr(plugin, "zero_stage", None) == 3:
            return "DeepSpeed ZeRO-3"
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # torch builds without distributed support
        DTensor = ()
    for p in trainer.model.parameters():
        if hasattr(p, "ds_id"):
            return "DeepSpeed ZeRO-3 (partitioned parameters)"
        if DTensor and isinstance(p, DTensor):
            return "FSDP2 (DTensor parameters)"
    return None


def refuse_unsupported(trainer) -> None:
    """Raise ``ValueError`` for a trainer setup the adapter does not support (see the module docstring)."""
    from transformers import PreTrainedTokenizerBase

    args = trainer.args
    if getattr(args, "use_vllm", False):
        raise ValueError("the tandem rollout_func generates with the trainer's live senior and the junior (our "
                         "engine); set GRPOConfig(use_vllm=False): vLLM would only hold a second, unused copy")
    if getattr(trainer, "tools", None) or getattr(trainer, "environment_factories", None) is not None:
        raise ValueError("the tandem rollout_func does not support tools or environment_factory: TRL would run its "
                         "tool loop on the co-written completions; use one or the other")
    if not isinstance(trainer.processing_class, PreTrainedTokenizerBase):
        raise ValueError(f"the tandem rollout_func needs a text tokenizer as processing_class, got "
                         f"{type(trainer.processing_class).__name__} (vision-language processors are not supported)")
    sharded = sharding_of(trainer)
    if sharded:
        raise ValueError(f"the senior is sharded ({sharded}): the tandem rollout_func decodes with whole weights and "
                         f"does not gather sharded ones through TRL (untested). Use DDP or DeepSpeed ZeRO-1/2 with "
                         f"TRL, or tandem-rl's own trainer, which gathers FSDP2 / ZeRO-3 weights for generation "
                         f"(docs/distributed.md)")


def check_junior(junior, senior) -> None:
    """The junior must be a separate model: sharing parameters with the senior would train it too."""
    if junior is senior:
        raise ValueError("the junior is the model being trained; pass a frozen copy (copy.deepcopy(model) before "
                         "building the trainer), another model, or junior=None for a frozen copy of the senior")
    def storages(model):
        return {p.data_ptr() for p in model.parameters() if p.numel() and p.data_ptr()}

    shared = storages(senior) & storages(junior)
    if shared:
        raise ValueError(f"the junior shares {len(shared)} parameter tensors with the senior (the model being "
                         f"trained); pass a separate copy (copy.deepcopy) so it stays frozen")
