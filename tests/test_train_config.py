"""Config: YAML round trip with the trainer's fields, override errors, validation messages, lr schedule."""

from pathlib import Path

import pytest

from tandem_rl.config import load_config, save_config
from tandem_rl.config_io import to_dict
from tandem_rl.train.build import lr_at
from tandem_rl.train.config import TrainConfig
from tandem_rl.train.validate import check_config


def test_yaml_round_trip(tmp_path):
    cfg = load_config(None, ["model.senior=x", "train.lr_schedule=cosine", "train.loggers=[jsonl]",
                             "grpo.loss_agg=dr_grpo", "grpo.solo_mix=0.25", "train.micro_batch_tokens=123"])
    save_config(cfg, tmp_path / "c.yaml")
    again = load_config(tmp_path / "c.yaml")
    assert to_dict(again) == to_dict(cfg)
    assert again.train.loggers == ["jsonl"] and again.grpo.solo_mix == 0.25


def test_paper_config_loads_with_paper_values():
    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / "paper-qwen3-4b-deepscaler.yaml")
    check_config(cfg)
    assert (cfg.train.prompts_per_step, cfg.grpo.group_size, cfg.train.mini_batches) == (16, 8, 2)
    assert (cfg.rollout.max_new_tokens, cfg.rollout.temperature, cfg.train.lr) == (3000, 0.6, 1e-6)
    assert cfg.grpo.loss_agg == "token-mean" and cfg.rollout.schedule == "word"
    assert cfg.model.gradient_checkpointing and cfg.train.mixed_precision == "bf16"


@pytest.mark.parametrize("override, message", [
    ("train.stepz=3", "stepz"),
    ("grpo.group_size=abc", "grpo.group_size"),
    ("train.lr=fast", "train.lr"),
    ("train.steps", "key=value"),
])
def test_override_errors_name_the_key(override, message):
    with pytest.raises(ValueError, match=message):
        load_config(None, [override])


@pytest.mark.parametrize("overrides, message", [
    (["grpo.loss_agg=mean"], "grpo.loss_agg"),
    (["train.prompts_per_step=15", "train.mini_batches=2"], "divisible"),
    (["train.lr=0"], "train.lr"),
    (["train.loggers=[jsonl,mlflow]"], "mlflow"),
    (["grpo.solo_mix=1.5"], "solo_mix"),
    (["rollout.p_end=2"], "p_end"),
    (["rollout.schedule=junior"], "junior"),
    (["rollout.schedule=zigzag"], "zigzag"),
    (["grpo.group_size=1"], "group_size"),
    (["train.mixed_precision=fp8"], "mixed_precision"),
    (["grpo.clip_eps_low=1.5"], "clip_eps_low"),
])
def test_validation_errors_name_the_field(overrides, message):
    cfg = load_config(None, ["model.senior=x"] + overrides)
    with pytest.raises(ValueError, match=message):
        check_config(cfg)


def test_lr_schedules():
    c = TrainConfig(lr=1.0, steps=10, warmup_steps=4)
    assert [lr_at(s, c) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    c = TrainConfig(lr=2.0, steps=5, lr_schedule="cosine", min_lr_ratio=0.5)
    assert [lr_at(s, c) for s in (0, 2, 4)] == pytest.approx([2.0, 1.5, 1.0])


def test_every_new_field_has_help():
    import dataclasses

    from tandem_rl.grpo.config import GRPOConfig

    for cls in (TrainConfig, GRPOConfig):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"


def test_paper_config_sets_the_authors_values_issue_16():
    """The recipe holds the authors' validation, selection, instruction, grader, dual-clip and evaluation set."""
    from tandem_rl.data import RUN_INSTRUCTION
    from tandem_rl.eval.runner import benchmark_name, eval_rollout
    from tandem_rl.train.evaluate import eval_rollout_config

    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / "paper-qwen3-4b-deepscaler.yaml")
    check_config(cfg)
    t = cfg.train
    assert (t.eval_every, t.eval_samples, t.best_metric) == (20, 4, "eval_pass@4")
    assert t.eval_benchmarks == ["amc", "aime", "minerva"] and t.eval_schedule == "solo"
    v = eval_rollout_config(cfg)
    assert (v.temperature, v.top_p, v.top_k, v.schedule) == (0.6, 0.95, 0, "solo")
    assert cfg.data.instruction == RUN_INSTRUCTION and cfg.reward.answer_format == "boxed-strict"
    assert (cfg.grpo.dual_clip, cfg.grpo.junior_weight) == (3.0, 0.0)
    assert [benchmark_name(b) for b in cfg.eval.benchmarks] == ["amc", "aime", "minerva", "olympiadbench"]
    e = eval_rollout(cfg, "paragraph")
    assert (e.temperature, e.top_p, e.top_k, e.max_new_tokens, e.max_turns) == (0.7, 0.8, 20, 3000, 300)
    assert cfg.eval.n_samples == 8 and cfg.eval.report_k == 4
    grpo = load_config(Path(__file__).resolve().parent.parent / "configs" / "paper-qwen3-4b-deepscaler.yaml",
                       ["rollout.schedule=solo", "train.eval_every=40"])
    check_config(grpo)


def test_defaults_keep_the_earlier_behaviour():
    cfg = load_config(None, [])
    assert (cfg.grpo.dual_clip, cfg.grpo.junior_weight, cfg.reward.answer_format) == (0.0, 0.0, "boxed")
    assert (cfg.train.eval_schedule, cfg.train.eval_samples, cfg.train.best_metric) == ("solo", 1, "")
    assert cfg.train.eval_benchmarks == [] and cfg.eval.max_rounds == 75   # 75 rounds = the earlier 150 turns
