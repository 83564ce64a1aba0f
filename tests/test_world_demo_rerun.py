"""A demo rerun into the same folder reuses finished evaluations, and never a stale one; the whole-demo progress."""

import json
import os
import time
from pathlib import Path

from tandem_rl.world.demo import demo_config, run_demo
from tandem_rl.world.demo_progress import DemoProgress, Part, last_step

TINY = ["train.steps=1", "train.prompts_per_step=2", "grpo.group_size=2", "train.mini_batches=1",
        "reward.workers=0", "eval.limit=2", "eval.n_samples=1", "eval.bootstrap=20",
        "eval.handoff_schedules=[paragraph]", "eval.batch_size=8", "rollout.max_new_tokens=12",
        "eval.max_new_tokens=12"]


def _reused(out: Path) -> dict:
    """label folder -> whether its records were read back (``reused`` in summary.json) instead of generated."""
    return {str(p.parent.relative_to(out)): bool(json.loads(p.read_text()).get("reused"))
            for p in (out / "eval").glob("*/*/summary.json")}


def _texts(out: Path) -> dict:
    return {str(p.relative_to(out)): p.read_text() for p in (out / "eval").rglob("samples.jsonl")}


def test_rerun_reuses_evaluations_and_drops_stale_ones(tmp_path):
    cfg = demo_config(TINY)
    first = run_demo(cfg, tmp_path, seeds=[0], jobs=1, progress=False)
    texts = _texts(tmp_path)
    assert len(texts) == 2 * 4 and not any(_reused(tmp_path).values())  # two settings x (initial + three arms)

    again = run_demo(cfg, tmp_path, seeds=[0], jobs=1, progress=False)
    assert all(_reused(tmp_path).values())  # nothing generated again
    assert _texts(tmp_path) == texts
    for s in ("paper", "west"):
        assert again["settings"][s]["comparison"] == first["settings"][s]["comparison"]

    # the arm trained on (a newer checkpoint than its records): only that senior is evaluated again
    marker = tmp_path / "runs" / "grpo_s0" / "checkpoints" / "latest.txt"
    later = time.time() + 5
    os.utime(marker, (later, later))
    run_demo(cfg, tmp_path, seeds=[0], jobs=1, progress=False)
    assert {k for k, v in _reused(tmp_path).items() if not v} == {"eval/paper/grpo_s0", "eval/west/grpo_s0"}
    assert _texts(tmp_path) == texts  # regenerated the same (seeded per schedule, not per label order)

    # another evaluation config: every record of that folder is written again, under the new config
    changed = demo_config(TINY + ["eval.top_k=5"])
    run_demo(changed, tmp_path, seeds=[0], jobs=1, progress=False)
    assert not any(_reused(tmp_path).values())
    assert "top_k: 5" in (tmp_path / "eval" / "west" / "eval_config.yaml").read_text()


def test_progress_counts_units_from_the_files(tmp_path):
    run, ev = tmp_path / "run", tmp_path / "ev"
    run.mkdir()
    parts = [Part(run / "metrics.jsonl", cost=1.5, steps=4), Part(ev / "summary.json", cost=5.0)]
    prog = DemoProgress(parts, enabled=False)
    assert prog.total() == 11.0 and prog.done() == 0.0
    (run / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2}\n{"step": 3')  # a line still being written
    assert last_step(run / "metrics.jsonl") == 2 and prog.done() == 3.0
    ev.mkdir()
    (ev / "summary.json").write_text("{}")
    assert prog.done() == 8.0
    # the estimate: the rate of this invocation only (1 unit resumed, 7 done in 70 s -> 10 s a unit, 3 left)
    assert prog.estimate(8.0, 1.0, 70.0) == 30.0
    assert prog.estimate(1.0, 1.0, 70.0) is None
