"""Checkpoints: HF-loadable, weights_only state, atomic under a crash mid-save, pruning, RNG round trip."""

import random

import numpy as np
import pytest
import torch

import tandem_rl.train.checkpoint as ckpt
from tiny import tiny_model, tiny_tokenizer


def _save(tmp_path, step, model, tok, keep_last=0):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(input_ids=torch.tensor([[1, 2, 3]])).logits.sum().backward()
    opt.step()
    state = {"step": step, "optimizer": opt.state_dict(), "rng": ckpt.rng_state(), "counters": {"nan_skips": 1}}
    return ckpt.save_checkpoint(tmp_path, step, model, tok, state, keep_last=keep_last), opt


def test_checkpoint_loads_with_from_pretrained_and_weights_only(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok, model = tiny_tokenizer(), tiny_model(seed=0)
    path, opt = _save(tmp_path, 3, model, tok)
    assert path.name == "step_000003" and ckpt.latest_checkpoint(tmp_path) == path
    loaded = AutoModelForCausalLM.from_pretrained(path)
    for (n, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), n
    assert AutoTokenizer.from_pretrained(path).encode("Tom has 12") == tok.encode("Tom has 12")
    state = ckpt.load_trainer_state(path)  # weights_only=True inside
    assert state["step"] == 3 and state["counters"] == {"nan_skips": 1}
    opt2 = torch.optim.AdamW(loaded.parameters(), lr=1e-3)
    opt2.load_state_dict(state["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    tok, model = tiny_tokenizer(), tiny_model(seed=0)
    first, _ = _save(tmp_path, 1, model, tok)

    def boom(*a, **k):
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(ckpt.torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, 2, model, tok)
    monkeypatch.undo()
    assert ckpt.latest_checkpoint(tmp_path) == first
    assert (tmp_path / "checkpoints" / "latest.txt").read_text().strip() == "step_000001"
    assert not (tmp_path / "checkpoints" / "step_000002").exists()


def test_leftover_temp_folder_is_ignored_and_cleaned(tmp_path):
    tok, model = tiny_tokenizer(), tiny_model(seed=0)
    first, _ = _save(tmp_path, 1, model, tok)
    stale = tmp_path / "checkpoints" / ".tmp-step_000002-abc"  # what a SIGKILL mid-save leaves behind
    stale.mkdir()
    (stale / "config.json").write_text("{}")
    assert ckpt.latest_checkpoint(tmp_path) == first
    _save(tmp_path, 2, model, tok)
    assert not stale.exists()


def test_keep_last(tmp_path):
    tok, model = tiny_tokenizer(), tiny_model(seed=0)
    for s in (1, 2, 3, 4):
        _save(tmp_path, s, model, tok, keep_last=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*"))
    assert names == ["step_000003", "step_000004"]
    assert ckpt.latest_checkpoint(tmp_path).name == "step_000004"


def test_no_checkpoint_and_dangling_marker(tmp_path):
    assert ckpt.latest_checkpoint(tmp_path) is None
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest.txt").write_text("step_000009\n")
    with pytest.raises(FileNotFoundError, match="step_000009"):
        ckpt.latest_checkpoint(tmp_path)


def test_rng_round_trip():
    state = ckpt.rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1))
    ckpt.set_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(1))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
