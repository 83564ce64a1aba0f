"""Resume never loses a record (issue #34, item 3): --resume without a checkpoint is refused and truncates nothing,
a fresh run moves an earlier run's records aside, a damaged newest checkpoint is found before use and the newest
intact one is used with a warning, latest.txt cannot point outside the run, the resume line is printed with
--no-progress, files are fsynced before the rename, and a kill mid-prune leaves no incomplete step_* folder."""

import json
import os
import shutil

import pytest
import torch

import tandem_rl.train.checkpoint as ckpt
from tandem_rl.cli import main
from tandem_rl.config import load_config
from tandem_rl.train import loop
from tiny import tiny_model, tiny_tokenizer


def _cfg(root, *extra):
    return load_config(None, [f"model.senior={root / 'model'}", f"data.source={root / 'p.jsonl'}",
                              f"train.output_dir={root / 'run'}", "train.steps=2", "train.prompts_per_step=2",
                              "grpo.group_size=2", "rollout.max_new_tokens=4", "reward.workers=0",
                              "train.loggers=[jsonl]", *extra])


def _yaml(root) -> str:
    path = root / "c.yaml"
    path.write_text(f"model:\n  senior: {root / 'model'}\ndata:\n  source: {root / 'p.jsonl'}\n"
                    f"train:\n  output_dir: {root / 'run'}\n  prompts_per_step: 2\n  loggers: [jsonl]\n"
                    "grpo:\n  group_size: 2\nrollout:\n  max_new_tokens: 4\nreward:\n  workers: 0\n")
    return str(path)


def _steps(run) -> list[int]:
    return [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_resume_without_a_checkpoint_is_refused_and_keeps_the_records(tiny_run, capsys):
    run = tiny_run / "run"
    loop.train(_cfg(tiny_run, "train.steps=3", "train.save_final=false"), progress=False)
    before = (run / "metrics.jsonl").read_text()
    assert len(before.splitlines()) == 3
    assert main(["train", _yaml(tiny_run), "train.steps=5", "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "has no checkpoint to resume from" in err and "Run without --resume" in err
    assert (run / "metrics.jsonl").read_text() == before  # not cut to nothing


def test_a_fresh_run_moves_earlier_records_aside(tiny_run, capsys):
    run = tiny_run / "run"
    loop.train(_cfg(tiny_run, "train.steps=3", "train.save_final=false", "train.dump_rollouts_every=1"),
               progress=False)
    before = (run / "metrics.jsonl").read_text()
    loop.train(_cfg(tiny_run, "train.steps=1"), progress=False)
    moved = list(run.glob("previous-*"))
    assert len(moved) == 1 and "records were moved to" in capsys.readouterr().out
    assert (moved[0] / "metrics.jsonl").read_text() == before
    assert sorted(p.name for p in (moved[0] / "rollouts").iterdir()) == [f"step_00000{i}.jsonl" for i in (1, 2, 3)]
    assert _steps(run) == [1]


def _two_checkpoints(tiny_run):
    loop.train(_cfg(tiny_run, "train.save_every=1", "train.keep_last=0"), progress=False)
    return tiny_run / "run" / "checkpoints"


@pytest.mark.parametrize("damage", ["truncated weights", "empty state", "half state", "bit flip"])
def test_a_damaged_newest_checkpoint_is_named_and_the_intact_one_used(tiny_run, capsys, damage):
    root = _two_checkpoints(tiny_run)
    newest = root / "step_000002"
    weights, state = newest / "model.safetensors", newest / ckpt.STATE_FILE
    if damage == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif damage == "empty state":
        state.write_bytes(b"")
    elif damage == "half state":
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    else:
        data = bytearray(weights.read_bytes())
        data[-1] ^= 1
        weights.write_bytes(bytes(data))
    capsys.readouterr()
    loop.train(_cfg(tiny_run, "train.steps=3", "train.save_every=1", "train.keep_last=0"), resume=True,
               progress=False)
    captured = capsys.readouterr()
    assert f"checkpoint {newest} is damaged" in captured.err and f"newest intact one, {root / 'step_000001'}" \
        in captured.err
    assert f"resuming from {root / 'step_000001'} (step 1)" in captured.out  # printed without a progress bar too
    assert _steps(tiny_run / "run") == [1, 2, 3] and ckpt.verify(root / "step_000002") is None  # re-written


def test_no_intact_checkpoint_is_an_error_naming_each(tiny_run):
    root = _two_checkpoints(tiny_run)
    for name in ("step_000001", "step_000002"):
        (root / name / ckpt.STATE_FILE).write_bytes(b"")
    with pytest.raises(OSError, match="no intact checkpoint.*step_000002.*step_000001"):
        loop.train(_cfg(tiny_run, "train.steps=3"), resume=True, progress=False)


def test_latest_txt_outside_the_run_is_refused(tiny_run, capsys):
    root = _two_checkpoints(tiny_run)
    (tiny_run / "elsewhere").mkdir()
    for target in ("../../../etc", "../../elsewhere", "/etc", "step_000001/../../x"):
        (root / "latest.txt").write_text(target + "\n")
        with pytest.raises(OSError, match="refusing to follow"):
            ckpt.latest_checkpoint(tiny_run / "run")
    assert main(["train", _yaml(tiny_run), "train.steps=3", "--resume", "--no-progress"]) == 2
    assert "refusing to follow" in capsys.readouterr().err


def _save(tmp_path, step, model, tok, keep_last=0):
    state = {"step": step, "rng": ckpt.rng_state(), "counters": {}}
    return ckpt.save_checkpoint(tmp_path, step, model, tok, state, keep_last=keep_last)


def test_checksums_and_old_checkpoints_without_them(tmp_path):
    tok, model = tiny_tokenizer(), tiny_model(seed=0)
    path = _save(tmp_path, 1, model, tok)
    manifest = json.loads((path / ckpt.MANIFEST).read_text())["files"]
    assert {"model.safetensors", "config.json", ckpt.STATE_FILE} <= set(manifest)
    assert ckpt.verify(path) is None
    (path / ckpt.MANIFEST).unlink()  # a checkpoint from before checksums: still loads
    assert ckpt.verify(path) is None and ckpt.latest_checkpoint(tmp_path) == path
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    assert "truncated" in ckpt.verify(path)  # the header says how long it must be
    with pytest.raises(OSError, match="no intact checkpoint"):
        ckpt.latest_checkpoint(tmp_path)


def test_files_and_folders_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    tok, model = tiny_tokenizer(), tiny_model(seed=0)
    synced, real_fsync, real_replace, renamed = [], os.fsync, os.replace, []

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    def replace(src, dst):
        renamed.append((str(src), len(synced)))
        return real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "fsync", fsync)
    monkeypatch.setattr(ckpt.os, "replace", replace)
    path = _save(tmp_path, 1, model, tok)
    tmp, at = next((src, n) for src, n in renamed if ".tmp-step_000001" in src)
    before = set(synced[:at])
    for f in path.iterdir():
        assert os.path.join(tmp, f.name) in before, f.name  # every file, before the folder is renamed
    assert tmp in before and str(path.parent) in synced[at:]  # the folder itself, then its parent after


def test_a_kill_while_pruning_leaves_no_incomplete_step_folder(tmp_path, monkeypatch):
    tok, model = tiny_tokenizer(), tiny_model(seed=0)
    _save(tmp_path, 1, model, tok)
    real_rmtree = shutil.rmtree

    def killed(path, *a, **k):
        if ".trash-step_000001" in str(path):  # delete half of the files, then die
            files = sorted(p.path for p in os.scandir(path) if p.is_file())
            for f in files[: len(files) // 2]:
                os.unlink(f)
            raise KeyboardInterrupt("killed mid-prune")
        return real_rmtree(path, *a, **k)

    monkeypatch.setattr(ckpt.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, 2, model, tok, keep_last=1)
    monkeypatch.undo()
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.glob("step_*")) == ["step_000002"]  # the half-deleted one is not a step_*
    assert ckpt.available(tmp_path) == ["step_000002"] and ckpt.latest_checkpoint(tmp_path) == root / "step_000002"
    _save(tmp_path, 3, model, tok, keep_last=1)
    assert not list(root.glob(".trash-*"))  # cleaned on the next save


def test_trainer_state_read_errors_name_the_file(tmp_path):
    (tmp_path / ckpt.STATE_FILE).write_bytes(b"not a torch file")
    with pytest.raises(OSError, match=str(tmp_path / ckpt.STATE_FILE)):
        ckpt.load_trainer_state(tmp_path)
    torch.save({"x": 1}, tmp_path / ckpt.STATE_FILE)
    assert ckpt.load_trainer_state(tmp_path) == {"x": 1}
