"""Failure handling of the loop and the CLI: clear messages for OOM, repeated NaN, bad config; p annealing."""

import json

import pytest
import torch

from tandem_rl.cli import main
from tandem_rl.config import load_config
from tandem_rl.train import loop
from tandem_rl.train.update import UpdateStats


def _cfg(root, *extra):
    return load_config(None, [f"model.senior={root / 'model'}", f"data.source={root / 'p.jsonl'}",
                              f"train.output_dir={root / 'run'}", "train.steps=3", "train.prompts_per_step=2",
                              "grpo.group_size=2", "rollout.max_new_tokens=4", "reward.workers=0",
                              "train.loggers=[jsonl]", *extra])


def test_out_of_memory_names_the_knobs(tiny_run, monkeypatch):
    def oom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(loop, "update_policy", oom)
    with pytest.raises(RuntimeError) as err:
        loop.train(_cfg(tiny_run), progress=False)
    for knob in ("micro_batch_tokens", "gradient_checkpointing", "bf16", "max_new_tokens", "prompts_per_step"):
        assert knob in str(err.value)


def test_repeated_nan_stops_with_a_message(tiny_run, monkeypatch):
    monkeypatch.setattr(loop, "update_policy", lambda *a, **k: UpdateStats(nan_skips=1, seconds=1.0))
    with pytest.raises(RuntimeError, match="max_nan_skips=1"):
        loop.train(_cfg(tiny_run, "train.max_nan_skips=1"), progress=False)
    rows = [json.loads(x) for x in (tiny_run / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["skipped_nan_total"] for r in rows] == [1]  # step 1 logged, step 2 stopped the run


def test_p_annealing_is_linear_over_training():
    cfg = load_config(None, ["rollout.p=0.5", "rollout.p_end=0.9", "train.steps=5"])
    assert [round(loop.annealed_p(cfg, i), 6) for i in range(5)] == [0.5, 0.6, 0.7, 0.8, 0.9]
    cfg.rollout.p_end = None
    assert loop.annealed_p(cfg, 3) == 0.5


def test_cli_reports_config_errors(tiny_run, capsys):
    (tiny_run / "c.yaml").write_text("train:\n  stepz: 3\n")
    assert main(["train", str(tiny_run / "c.yaml")]) == 2
    assert "stepz" in capsys.readouterr().err
    (tiny_run / "d.yaml").write_text(f"model:\n  senior: {tiny_run / 'model'}\n")
    assert main(["train", str(tiny_run / "d.yaml"), "grpo.loss_agg=mean", "--no-progress"]) == 2  # bad input: 2
    assert "grpo.loss_agg" in capsys.readouterr().err


def test_cli_trains_and_resumes(tiny_run, capsys):
    (tiny_run / "c.yaml").write_text(
        f"model:\n  senior: {tiny_run / 'model'}\ndata:\n  source: {tiny_run / 'p.jsonl'}\n"
        f"train:\n  output_dir: {tiny_run / 'cli'}\n  prompts_per_step: 2\n  loggers: [jsonl]\n"
        "grpo:\n  group_size: 2\nrollout:\n  max_new_tokens: 4\nreward:\n  workers: 0\n")
    assert main(["train", str(tiny_run / "c.yaml"), "train.steps=1", "--no-progress"]) == 0
    assert main(["train", str(tiny_run / "c.yaml"), "train.steps=2", "--no-progress"]) == 2  # would overwrite
    assert "--resume" in capsys.readouterr().err
    assert main(["train", str(tiny_run / "c.yaml"), "train.steps=2", "--resume", "--no-progress"]) == 0
    rows = [json.loads(x) for x in (tiny_run / "cli" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    saved = load_config(tiny_run / "cli" / "config.yaml")
    assert saved.train.steps == 2 and saved.grpo.group_size == 2


def test_resume_with_a_different_batch_shape_is_refused(tiny_run):
    loop.train(_cfg(tiny_run, "train.steps=1"), progress=False)
    with pytest.raises(ValueError, match="prompts_per_step"):
        loop.train(_cfg(tiny_run, "train.steps=2", "train.prompts_per_step=4"), resume=True, progress=False)
