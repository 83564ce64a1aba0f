"""Loading the senior, the junior and their tokenizer, the same way for a 1M-parameter toy and Qwen3-4B.

Names accepted for a model:
- a local folder saved with ``save_pretrained`` (safetensors), or a hub name where a hub is reachable;
- ``path/to/model.gguf`` (transformers' GGUF loader; quantised weights are dequantised to ``dtype``);
- ``world:senior`` / ``world:junior``: the embedded demo models shipped inside the package.

The junior is always frozen: ``requires_grad_(False)``, ``eval()``; it never gets an optimizer or a wrapper.

Bad names end in one ``InputFileError`` line that names the field and the path (``check_source``, run before any
loading): a path that does not exist (instead of the hub's "Repo id must be in the form ..."), a folder that is
not a saved model (no ``config.json``, or one without ``model_type``), a truncated ``model.safetensors``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import torch
from safetensors import SafetensorError

from tandem_rl.cogen.vocab import same_vocab
from tandem_rl.errors import InputFileError
from tandem_rl.world.assets import resolve

# a hub name: "repo" or "owner/repo" of letters, digits, "-", "_", "." (no "--" or ".."; the hub's own rule)
HUB_NAME = re.compile(r"(?!.*(--|\.\.))[\w.-]{1,96}(/[\w.-]{1,96})?")
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


def looks_local(name: str) -> bool:
    """Whether ``name`` can only be a local path (a hub name is ``repo`` or ``owner/repo``).

    >>> looks_local("/no/such/model"), looks_local("./m"), looks_local("a/b/c"), looks_local("Qwen/Qwen3-4B")
    (True, True, True, False)
    """
    if name.startswith((".", "~", "/")) or name.endswith(".gguf") or not HUB_NAME.fullmatch(name):
        return True
    return "/" in name and Path(name.split("/")[0]).is_dir()  # runs/x: its first folder is here


def check_source(name: str, field: str = "model", *, kind: str = "model") -> None:
    """Raise ``InputFileError`` naming ``field`` when ``name`` is a local path that is missing or not a saved
    ``kind`` ("model" or "tokenizer"); hub names pass (the hub answers for them)."""
    path = Path(resolve(name)).expanduser()
    if not path.exists():
        if looks_local(name):
            raise InputFileError(f"{field}: could not load a {kind} from {name}: it does not exist")
        return
    if path.is_file():
        if path.suffix != ".gguf":
            raise InputFileError(f"{field}: {name} is a file; give a model folder or a .gguf file")
        return
    config = path / "config.json"
    hint = " (a training run? name a checkpoint: RUN@latest, RUN@best)" if (path / "checkpoints").is_dir() else ""
    if kind == "model":
        if not config.is_file():
            raise InputFileError(f"{field}: {name} is not a saved model folder (no config.json in it){hint}")
        try:
            ok = "model_type" in json.loads(config.read_text(encoding="utf-8"))
        except (ValueError, TypeError, UnicodeDecodeError):
            ok = False
        if not ok:
            raise InputFileError(f"{field}: {config} is not a model config (no \"model_type\" key)")
    elif not any((path / f).exists() for f in TOKENIZER_FILES):
        raise InputFileError(f"{field}: {name} holds no tokenizer files (one of {', '.join(TOKENIZER_FILES)}){hint}")


def load_tokenizer(name: str, field: str = "tokenizer"):
    from transformers import AutoTokenizer

    check_source(name, field, kind="tokenizer")
    path, extra = _split_gguf(resolve(name))
    try:
        tok = AutoTokenizer.from_pretrained(path, **extra)
    except (OSError, ValueError) as err:  # the library's messages often name no folder
        raise InputFileError(f"{field}: could not load a tokenizer from {name}: {err}") from err
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
    tok = load_tokenizer(name, "model.junior")
    return None if same_vocab(senior_tokenizer, tok) else tok


def load_model(name: str, *, dtype: str = "float32", device: str | None = "auto", field: str = "model"):
    """Load a causal LM as a plain ``nn.Module`` on ``device`` in ``dtype`` (eval mode). ``field`` names the
    setting in error messages (``model.senior``)."""
    from transformers import AutoModelForCausalLM

    check_source(name, field)
    path, extra = _split_gguf(resolve(name))
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=resolve_dtype(dtype), **extra)
    except SafetensorError as err:  # names no file: a truncated or corrupt model.safetensors
        files = sorted(str(f) for f in Path(path).glob("*.safetensors")) or [path]
        raise InputFileError(f"{field}: {', '.join(files)} cannot be read (truncated or corrupt? {err})") from err
    except OSError as err:
        raise InputFileError(f"{field}: could not load a model from {name}: {err}") from err
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
    tok = load_tokenizer(model_cfg.tokenizer or model_cfg.senior,
                         "model.tokenizer" if model_cfg.tokenizer else "model.senior")
    senior = load_model(model_cfg.senior, dtype=model_cfg.dtype, device=model_cfg.device, field="model.senior")
    if model_cfg.junior is None:
        junior = copy.deepcopy(senior).to(resolve_dtype(model_cfg.junior_dtype or model_cfg.dtype))
        if model_cfg.junior_device:
            junior = junior.to(resolve_device(model_cfg.junior_device))
    else:
        junior = load_model(model_cfg.junior, dtype=model_cfg.junior_dtype or model_cfg.dtype,
                            device=model_cfg.junior_device or model_cfg.device, field="model.junior")
    return senior, freeze(junior), tok


def check_model_names(model_cfg) -> None:
    """Check ``model.senior`` / ``junior`` / ``tokenizer`` before anything loads (``check_source``)."""
    for field, kind in (("senior", "model"), ("junior", "model"), ("tokenizer", "tokenizer")):
        name = getattr(model_cfg, field)
        if name:
            check_source(name, f"model.{field}", kind=kind)
