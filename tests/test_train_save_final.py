"""``train.save_final``: the last step's checkpoint can be turned off (benchmarks, throwaway runs); periodic ones stay."""

from tandem_rl.config import load_config
from tandem_rl.rewards import FunctionGrader
from tandem_rl.train import loop


def _train(root, name, *extra):
    cfg = load_config(None, [f"model.senior={root / 'model'}", f"data.source={root / 'p.jsonl'}",
                             f"train.output_dir={root / name}", "train.steps=3", "train.prompts_per_step=2",
                             "grpo.group_size=2", "rollout.max_new_tokens=4", "rollout.schedule=solo",
                             "train.loggers=[jsonl]", "train.dump_rollouts_every=0", *extra])
    return loop.train(cfg, progress=False, grader=FunctionGrader(lambda text, gold: float(len(text) % 2)))


def _steps(run_dir):
    return sorted(p.name for p in (run_dir / "checkpoints").glob("step_*")) if (run_dir / "checkpoints").exists() else []


def test_no_final_checkpoint_when_asked(tiny_run):
    assert _steps(_train(tiny_run, "none", "train.save_every=0", "train.save_final=false")) == []
    assert _steps(_train(tiny_run, "periodic", "train.save_every=2", "train.save_final=false")) == ["step_000002"]


def test_default_saves_the_last_step(tiny_run):
    assert _steps(_train(tiny_run, "default", "train.save_every=2", "train.keep_last=0")) == ["step_000002",
                                                                                            "step_000003"]


def test_a_run_without_latest_names_what_it_has(tiny_run):
    import pytest

    from tandem_rl.eval.runner import resolve_checkpoint

    run = _train(tiny_run, "none", "train.save_every=0", "train.save_final=false")
    with pytest.raises(FileNotFoundError, match=r"without checkpoints/latest.txt \(it has: none\)"):
        resolve_checkpoint(str(run))
    run = _train(tiny_run, "periodic", "train.save_every=2", "train.save_final=false")
    assert resolve_checkpoint(str(run)).endswith("step_000002")  # latest.txt names the last periodic one
