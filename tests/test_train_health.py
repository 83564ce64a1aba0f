"""The training-health monitor (train/health.py): rules on real demo metrics (no false alarm) and on the lr=1e3
collapse (trips), the stop after train.collapse_patience bad steps with the last good checkpoint kept, exit status
3 from the CLI, health.json, and the same numbers with the monitor as without it."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tandem_rl.cli import main
from tandem_rl.config import load_config
from tandem_rl.rewards import FunctionGrader
from tandem_rl.train import loop
from tandem_rl.train.health import RULES, Collapsed, HealthMonitor

# metrics.jsonl rows (the keys the rules read) of real runs of configs/demo.yaml at OMP_NUM_THREADS=1 (see
# docs/training.md, "Health"): 80 steps of each arm, and `train.lr=1e3 train.steps=12`
FIXTURE = Path(__file__).parent / "fixtures" / "health_demo_metrics.json"
QUIET = dict(say=lambda line: None)


def _runs() -> dict:
    return json.loads(FIXTURE.read_text())


def _cfg(root, *extra):
    return load_config(None, [f"model.senior={root / 'model'}", f"data.source={root / 'p.jsonl'}",
                              f"train.output_dir={root / 'run'}", "train.steps=3", "train.prompts_per_step=2",
                              "grpo.group_size=2", "rollout.max_new_tokens=4", "reward.workers=0",
                              "train.loggers=[jsonl]", *extra])


@pytest.mark.parametrize("arm", ["grpo", "tandem"])
def test_no_rule_trips_on_the_demo_arms(arm):
    rows = _runs()[arm]
    assert len(rows) == 80
    monitor = HealthMonitor(patience=5, stop=True)
    for row in rows:
        assert monitor.observe(row, **QUIET) == [], row  # stop=True: a false collapse would raise here
    assert monitor.summary()["verdict"] == "healthy"


def test_the_lr_1e3_collapse_trips_and_stops():
    rows = _runs()["collapse"]
    monitor = HealthMonitor(patience=5, stop=True)
    with pytest.raises(Collapsed, match=r"5 bad steps in a row \(steps 1-5: .*reward_zero") as err:
        for row in rows:
            monitor.observe(row, **QUIET)
    assert "no checkpoint was saved before the collapse" in str(err.value)
    assert monitor.stopped_at == 5 and monitor.summary()["verdict"] == "collapsed"


def test_each_rule_trips_on_its_own_signal_and_not_on_a_normal_row():
    normal = {"step": 1, "reward_mean": 0.5, "zero_std_frac": 0.5, "skipped_nan": 0, "updates": 2,
              "grad_norm": 0.5, "entropy": 0.1}
    bad = {"non_finite": {"skipped_nan": 1}, "no_signal": {"zero_std_frac": 1.0}, "reward_zero": {"reward_mean": 0.0},
           "no_update": {"updates": 0}, "grad_spike": {"grad_norm": 6.0}, "entropy_collapse": {"entropy": 0.001},
           "reward_one": {"reward_mean": 1.0}}
    assert set(bad) == {r.name for r in RULES}
    for name, change in bad.items():
        monitor = HealthMonitor(patience=3)
        for step in range(1, 7):  # a history for the relative rules (grad norm median 0.5, entropy 0.1)
            assert monitor.observe({**normal, "step": step}, **QUIET) == []
        assert monitor.observe({**normal, "step": 7, **change}, **QUIET) == [name]
        assert monitor.streak == (0 if name == "reward_one" else 1)  # saturation warns, it is no collapse


def test_a_healthy_step_ends_the_streak_and_warnings_are_not_repeated():
    lines = []
    monitor = HealthMonitor(patience=3, stop=True)
    zero = {"reward_mean": 0.0, "zero_std_frac": 1.0, "skipped_nan": 0, "updates": 2}
    ok = {"reward_mean": 0.5, "zero_std_frac": 0.5, "skipped_nan": 0, "updates": 2}
    for step, row in enumerate([zero, zero, ok, zero, zero, ok], start=1):  # never 3 bad steps in a row
        monitor.observe({"step": step, **row}, say=lines.append)
    assert monitor.bad_steps == 4 and monitor.longest == 2 and monitor.stopped_at is None
    assert len(lines) == 4 and all(line.startswith("warning: step ") for line in lines)  # 2 rules x 2 streaks
    assert monitor.summary()["verdict"] == "warnings"


def _flip_grader():
    """Rewards 0, 1, 0, 1, ... (every group of 2 has a spread) for the first 8 responses (2 steps), then 0."""
    calls = []

    def reward(response, gold):
        calls.append(1)
        return float(len(calls) % 2) if len(calls) <= 8 else 0.0

    return FunctionGrader(reward)


def test_stop_keeps_the_last_checkpoint_from_before_the_collapse(tiny_run):
    cfg = _cfg(tiny_run, "train.steps=6", "train.save_every=1", "train.keep_last=0", "train.stop_on_collapse=true",
               "train.collapse_patience=2")
    with pytest.raises(Collapsed) as err:
        loop.train(cfg, progress=False, grader=_flip_grader())
    run = tiny_run / "run"
    assert f"is {run / 'checkpoints' / 'step_000002'}" in str(err.value)  # steps 3-4 were bad: 2 is the last good
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*")) == ["step_000001", "step_000002"]
    assert (run / "checkpoints" / "latest.txt").read_text().strip() == "step_000002"
    assert [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    health = json.loads((run / "health.json").read_text())
    assert health["verdict"] == "collapsed" and health["stopped_at_step"] == 4
    assert health["rules"]["reward_zero"]["first_step"] == 3 and health["rules"]["no_signal"]["steps"] == 2


def test_cli_exits_3_with_one_line_and_writes_health_json(tiny_run, capsys):
    # the tiny random senior never earns a reward: every step is bad from step 1
    (tiny_run / "c.yaml").write_text(
        f"model:\n  senior: {tiny_run / 'model'}\ndata:\n  source: {tiny_run / 'p.jsonl'}\n"
        f"train:\n  output_dir: {tiny_run / 'cli'}\n  prompts_per_step: 2\n  loggers: [jsonl]\n  steps: 5\n"
        "  stop_on_collapse: true\n  collapse_patience: 2\n"
        "grpo:\n  group_size: 2\nrollout:\n  max_new_tokens: 4\nreward:\n  workers: 0\n")
    assert main(["train", str(tiny_run / "c.yaml"), "--no-progress"]) == 3
    err = capsys.readouterr().err
    stop = [line for line in err.splitlines() if line.startswith("tandem-rl train: stopped: training collapsed")]
    assert len(stop) == 1 and "no checkpoint was saved before the collapse" in stop[0]
    assert "warning: step 1: health: every rollout has reward 0 [reward_zero]" in err
    assert not (tiny_run / "cli" / "checkpoints" / "latest.txt").exists()  # the final save never happened
    assert json.loads((tiny_run / "cli" / "health.json").read_text())["stopped_at_step"] == 2


class _NoMonitor:
    """The loop without a health monitor: what the numbers must equal."""

    @classmethod
    def from_config(cls, *a, **k):
        return cls()

    def observe(self, row):
        return []

    def may_save(self, last):
        return True

    def postfix(self):
        return {}

    def close(self):
        return None


def _numbers(run: Path) -> tuple[list[dict], dict]:
    timing = ("seconds", "_per_s")
    rows = [{k: v for k, v in json.loads(x).items() if not k.endswith(timing)}
            for x in (run / "metrics.jsonl").read_text().splitlines()]
    return rows, load_file(str(run / "checkpoints" / "step_000003" / "model.safetensors"))


def test_the_monitor_changes_no_number(tiny_run, monkeypatch):
    """Same metrics, dumps and final weights with the monitor (warning on every step here) as without it."""
    on = _cfg(tiny_run, "train.output_dir=" + str(tiny_run / "on"), "train.dump_rollouts_every=1")
    loop.train(on, progress=False, grader=_flip_grader())
    assert json.loads((tiny_run / "on" / "health.json").read_text())["bad_steps"] == 1  # step 3: the monitor ran
    monkeypatch.setattr(loop, "HealthMonitor", _NoMonitor)
    off = _cfg(tiny_run, "train.output_dir=" + str(tiny_run / "off"), "train.dump_rollouts_every=1")
    loop.train(off, progress=False, grader=_flip_grader())
    assert not (tiny_run / "off" / "health.json").exists()
    (rows_on, w_on), (rows_off, w_off) = _numbers(tiny_run / "on"), _numbers(tiny_run / "off")
    assert rows_on == rows_off and len(rows_on) == 3
    assert w_on.keys() == w_off.keys() and all(torch.equal(w_on[k], w_off[k]) for k in w_on)
    for dump in sorted((tiny_run / "on" / "rollouts").glob("*.jsonl")):
        assert dump.read_text() == (tiny_run / "off" / "rollouts" / dump.name).read_text()


def test_a_resumed_run_replays_its_kept_rows(tiny_run):
    rows = [{"step": s, "reward_mean": 0.0, "zero_std_frac": 1.0, "skipped_nan": 0, "updates": 0} for s in (1, 2, 3)]
    (tiny_run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 4, "rew')
    t = _cfg(tiny_run, "train.collapse_patience=3", "train.stop_on_collapse=true").train
    monitor = HealthMonitor.from_config(t, tiny_run, resume_step=2, main=True)
    assert monitor.steps == 2 and monitor.streak == 2  # rows after the checkpoint and the torn line are ignored
    with pytest.raises(Collapsed):
        monitor.observe(rows[2], **QUIET)


def test_docstring_examples():
    import doctest

    import tandem_rl.train.health

    result = doctest.testmod(tandem_rl.train.health)
    assert result.attempted > 0 and result.failed == 0
