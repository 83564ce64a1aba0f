"""Loading the senior/junior pair: names, self-pairing, freezing, dtype and error messages."""

import pytest
import torch

from tandem_rl.config import ModelConfig
from tandem_rl.models import load_model, load_pair, load_tokenizer, resolve_device, resolve_dtype


def test_world_pair_loads_with_a_frozen_junior():
    senior, junior, tok = load_pair(ModelConfig(senior="world:senior", junior="world:junior", device="cpu"))
    assert all(p.requires_grad for p in senior.parameters())
    assert not any(p.requires_grad for p in junior.parameters()) and not junior.training
    assert tok.pad_token_id is not None and tok.chat_template
    assert sum(p.numel() for p in senior.parameters()) > sum(p.numel() for p in junior.parameters())


def test_self_paired_junior_is_an_independent_frozen_copy():
    senior, junior, _ = load_pair(ModelConfig(senior="world:junior", junior=None, device="cpu"))
    for (n, a), (_, b) in zip(senior.named_parameters(), junior.named_parameters()):
        assert torch.equal(a, b), n
        assert a.data_ptr() != b.data_ptr()  # training the senior must not move the junior
    with torch.no_grad():
        next(senior.parameters()).add_(1.0)
    assert not torch.equal(next(senior.parameters()), next(junior.parameters()))


def test_bf16_and_errors(tmp_path):
    model = load_model("world:junior", dtype="bfloat16", device="cpu")
    assert next(model.parameters()).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="model.dtype"):
        resolve_dtype("float8")
    with pytest.raises(OSError, match="could not load a model"):
        load_model(str(tmp_path / "missing"), device="cpu")
    with pytest.raises(OSError, match="could not load a tokenizer"):
        load_tokenizer(str(tmp_path / "missing"))
    assert resolve_device("cpu") == torch.device("cpu")


def test_load_pair_junior_dtype():
    from tandem_rl.config import ModelConfig

    senior, junior, _ = load_pair(ModelConfig(senior="world:senior", device="cpu", junior_dtype="bfloat16"))
    assert next(senior.parameters()).dtype == torch.float32 and next(junior.parameters()).dtype == torch.bfloat16
    _, junior, _ = load_pair(ModelConfig(senior="world:senior", junior="world:junior", device="cpu",
                                         junior_dtype="bfloat16"))
    assert next(junior.parameters()).dtype == torch.bfloat16 and not junior.training
