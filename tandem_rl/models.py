"""Loading the senior, the junior and their tokenizer, the same way for a 1M-parameter toy and Qwen3-4B.

Names accepted for a model:
- a local folder saved with ``save_pretrained`` (safetensors), or a hub name where a hub is reachable;
- ``path/to/model.gguf`` (transformers' GGUF loader; quantised weights are dequantised to ``dtype``);
- ``world:senior`` / ``world:junior``: the embedded demo models shipped inside the package.

The junior is always frozen: ``requires_grad_(False)``, ``eval()``; it never gets an optimizer or a wrapper.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from tandem_rl.cogen.vocab import same_vocab
from tandem_rl.world.assets import resolve

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def resolve_device(device: str | None) -> torch.device:
    """'auto' -> cuda if available, else cpu."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str) -> torch.dtype:
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ValueError(f"model.dtype {dtype!r} is not one of {sorted(DTYPES)}") from None


def _split_gguf(name: str) -> tuple[str, dict]:
    """'dir/file.gguf' -> ('dir', {'gguf_file': 'file.gguf'}); anything else unchanged."""
    if name.endswith(".gguf"):
        p = Path(name)
        return str(p.parent), {"gguf_file": p.name}
    return name, {}


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    path, extra = _split_gguf(resolve(name))
    try:
        tok = AutoTokenizer.from_pretrained(path, **extra)
    except OSError as err:
        raise OSError(f"could not load a tokenizer from {name!r}: {err}") from err
    if tok.pad_token_id is None:
        # Padding is internal to our batching (always masked out); any id works, EOS is the usual choice.
        tok.pad_token = tok.eos_token
    return tok


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def load_junior_tokenizer(name: str | None, senior_tokenizer):
    """The junior's own tokenizer when it differs from the senior's (a pair from two families), else None.

    None also when the junior is the senior's copy (``name`` None) or a local folder without tokenizer files (then it
    is assumed to share the senior's, as before; the engine checks the output layer covers the vocabulary). Any other
    failure to load the junior's tokenizer is raised: guessing "same tokenizer" would garble every rollout."""
    if name is None:
        return None
    path = Path(resolve(name))
    if path.is_dir() and not any((path / f).exists() for f in TOKENIZER_FILES):
        return None
    tok = load_tokenizer(name)
    return None if same_vocab(senior_tokenizer, tok) else tok


def load_model(name: str, *, dtype: str = "float32", device: str | None = "auto"):
    """Load a causal LM as a plain ``nn.Module`` on ``device`` in ``dtype`` (eval mode)."""
    from transformers import AutoModelForCausalLM

    path, extra = _split_gguf(resolve(name))
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=resolve_dtype(dtype), **extra)
    except OSError as err:
        raise OSError(f"could not load a model from {name!r}: {err}") from err
    if getattr(model, "hf_quantizer", None) is not None:
        # GGUF weights arrive dequantised; forget the quantizer so the model can be trained and saved.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    return model.to(resolve_device(device)).eval()


def freeze(model):
    """Make ``model`` a frozen junior: no gradients, eval mode."""
    model.requires_grad_(False)
    return model.eval()


def load_pair(model_cfg):
    """(senior, junior, tokenizer) from a ``ModelConfig``; junior ``None`` in the config = frozen copy of the senior.
    A junior with its own tokenizer: ``load_junior_tokenizer(model_cfg.junior, tokenizer)``."""
    tok = load_tokenizer(model_cfg.tokenizer or model_cfg.senior)
    senior = load_model(model_cfg.senior, dtype=model_cfg.dtype, device=model_cfg.device)
    if model_cfg.junior is None:
        junior = copy.deepcopy(senior).to(resolve_dtype(model_cfg.junior_dtype or model_cfg.dtype))
        if model_cfg.junior_device:
            junior = junior.to(resolve_device(model_cfg.junior_device))
    else:
        junior = load_model(model_cfg.junior, dtype=model_cfg.junior_dtype or model_cfg.dtype,
                            device=model_cfg.junior_device or model_cfg.device)
    return senior, freeze(junior), tok
