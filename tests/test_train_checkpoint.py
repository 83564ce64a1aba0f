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
    with pytest.raises(OSError, match="step_000009.*no intact checkpoint"):
        ckpt.latest_checkpoint(tmp_path)


def test_rng_round_trip():
    state = ckpt.rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1))
    ckpt.set_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(1))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


# --- the kept best checkpoint and named checkpoints (issue 16) ---------------------------------------------------


def _weights(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_best_survives_keep_last_pruning_and_is_replaced_only_when_better(tmp_path):
    tok = tiny_tokenizer()
    models = {s: tiny_model(seed=s) for s in (1, 2, 3, 4, 5)}
    values = {1: 0.2, 2: 0.5, 3: 0.4, 4: 0.5, 5: 0.3}  # best at step 2; step 4 only ties it
    for s in (1, 2, 3, 4, 5):
        _save(tmp_path, s, models[s], tok, keep_last=2)
        if ckpt.improves(values[s], ckpt.best_record(tmp_path), "eval_pass@4"):
            ckpt.save_best(tmp_path, s, models[s], tok, metric="eval_pass@4", value=values[s])
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.glob("step_*")) == ["step_000004", "step_000005"]  # step 2 pruned...
    assert ckpt.best_record(tmp_path) == {"step": 2, "checkpoint": "step_000002", "metric": "eval_pass@4",
                                          "value": 0.5}
    best = _weights(root / "best")  # ...but its weights are kept in best/
    for n, w in models[2].state_dict().items():
        assert torch.equal(best[n], w), n
    assert not list(root.glob(".tmp-*")) and not list(root.glob(".old-*"))


def test_best_record_is_read_back_by_a_resumed_run_and_metric_must_match(tmp_path):
    tok, model = tiny_tokenizer(), tiny_model(seed=0)
    ckpt.save_best(tmp_path, 6, model, tok, metric="eval_pass@4", value=0.25)
    record = ckpt.best_record(tmp_path)  # a resumed run starts from what is on disk
    assert not ckpt.improves(0.2, record, "eval_pass@4") and ckpt.improves(0.3, record, "eval_pass@4")
    with pytest.raises(ValueError, match="chosen by 'eval_pass@4'"):
        ckpt.improves(0.9, record, "eval_pass@1")


def test_kill_between_the_two_renames_of_best_keeps_the_old_best(tmp_path, monkeypatch):
    tok = tiny_tokenizer()
    ckpt.save_best(tmp_path, 2, tiny_model(seed=2), tok, metric="m", value=0.5)
    real = ckpt.os.replace
    calls = []

    def replace(a, b):
        calls.append(b)
        if len(calls) == 2:  # the old best has been moved aside; the new one not yet in
            raise KeyboardInterrupt("killed")
        return real(a, b)

    monkeypatch.setattr(ckpt.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_best(tmp_path, 3, tiny_model(seed=3), tok, metric="m", value=0.9)
    monkeypatch.undo()
    assert not (tmp_path / "checkpoints" / "best").exists()
    assert ckpt.best_record(tmp_path)["step"] == 2  # the swap is finished from the folder moved aside
    assert (tmp_path / "checkpoints" / "best" / "best.json").exists()


def test_resolve_named_checkpoints_and_their_errors(tmp_path):
    tok = tiny_tokenizer()
    for s in (1, 2, 3):
        _save(tmp_path, s * 20, tiny_model(seed=s), tok, keep_last=2)
    assert ckpt.resolve_named(tmp_path, "latest").name == "step_000060"
    assert ckpt.resolve_named(tmp_path, "step_000040").name == "step_000040"
    with pytest.raises(FileNotFoundError, match=r"keeps no best checkpoint.*It has: step_000040, step_000060"):
        ckpt.resolve_named(tmp_path, "best")
    with pytest.raises(FileNotFoundError, match=r"step_000020: no such complete checkpoint.*train.keep_last"):
        ckpt.resolve_named(tmp_path, "step_000020")
    ckpt.save_best(tmp_path, 20, tiny_model(seed=1), tok, metric="m", value=1.0)
    assert ckpt.resolve_named(tmp_path, "best") == tmp_path / "checkpoints" / "best"
    with pytest.raises(FileNotFoundError, match=r"step_000020 is the kept best: use .*@best"):
        ckpt.resolve_named(tmp_path, "step_000020")
    with pytest.raises(ValueError, match="RUN@step_NNNNNN"):
        ckpt.resolve_named(tmp_path, "step_120")
    with pytest.raises(FileNotFoundError, match="not a training run folder"):
        ckpt.resolve_named(tmp_path / "nope", "best")
    assert ckpt.available(tmp_path) == ["step_000040", "step_000060", "best"]
