"""End to end: `evaluate` on tiny models and two tiny jsonl benchmarks, then the report from its folder."""

import json

import numpy as np
import pytest

from tandem_rl.config import load_config
from tandem_rl.eval.command import parse_groups, parse_seniors
from tandem_rl.eval.records import SampleRecord, read_jsonl
from tandem_rl.eval.runner import benchmark_name, evaluate, resolve_checkpoint
from tandem_rl.eval.summary import summarize_label
from tests.tiny import tiny_model, tiny_tokenizer


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    tok = tiny_tokenizer()
    paths = {}
    for name, seed in (("base", 0), ("grpo", 1), ("tandem", 2)):
        model = tiny_model(tok, seed=seed)
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        paths[name] = str(root / name)
    for bench, n in (("easy", 2), ("hard", 3)):
        with open(root / f"{bench}.jsonl", "w") as fh:
            for i in range(n):
                row = {"id": f"{bench}{i}", "problem": f"What is {i} plus 7?", "answer": str(i + 7)}
                fh.write(json.dumps(row) + "\n")
    return root, paths


def test_evaluate_end_to_end(world, tmp_path, monkeypatch):
    root, paths = world
    cfg = load_config(None, [
        f"eval.benchmarks=[{root / 'easy.jsonl'},{root / 'hard.jsonl'}]", "eval.n_samples=2",
        "eval.max_new_tokens=6", "eval.batch_size=6", "eval.bootstrap=50", "eval.handoff_schedules=[paragraph,word]",
        "eval.notation_regex=\\d", "reward.workers=0", "eval.score_token_budget=64",
        "eval.displacement=grpo,tandem", "model.device=cpu"])
    calls = []

    def checker(text):
        calls.append(text)
        return (2, 1 if "7" in text else 0)

    out = evaluate(cfg, {"grpo": paths["grpo"], "tandem": paths["tandem"]}, junior=paths["base"],
                   base=paths["base"], output_dir=tmp_path / "ev", step_checker=checker, progress=False)
    assert set(out["labels"]) == {"grpo", "tandem"}
    recs = read_jsonl(tmp_path / "ev" / "tandem" / "samples.jsonl", SampleRecord)
    # 5 problems x 2 samples x (solo + 2 handoff schedules)
    assert len(recs) == 30
    assert {r.schedule for r in recs} == {"solo", "paragraph", "word"}
    solo = [r for r in recs if r.schedule == "solo"]
    assert len(calls) == 20 and all(r.steps is not None and r.notation is not None for r in solo)
    for r in recs:
        assert len(r.author) == len(r.response_ids) <= 6
        assert "".join(s for _, s in r.segments) == r.text
        if r.schedule == "solo":
            assert set(r.author) <= {1} and r.ce_junior is not None and r.kl_base is not None
            assert r.kl_base == pytest.approx(r.kl_junior)  # junior and base are the same model here
    assert any(0 in r.author for r in recs if r.schedule == "word")
    s = out["labels"]["tandem"]
    assert s["n_samples"] == 2 and s["problems"] == {"easy": 2, "hard": 3}
    for name in ("solo_pass@k", "handoff_paragraph_pass@k", "handoff_word_pass@k", "legibility_ce", "drift_kl_base",
                 "drift_kl_junior", "notation_rate", "faithful", "handoff_word_over_solo_pass@k"):
        assert name in s["metrics"], name
    # the summary on disk is rebuildable from the samples alone
    again = summarize_label(recs, label="tandem", resamples=50, seed=cfg.eval.seed)
    assert again["metrics"] == json.loads((tmp_path / "ev" / "tandem" / "summary.json").read_text())["metrics"]
    # legibility by hand: mean over problems (per benchmark) of the mean over samples, then over benchmarks
    per_b = {}
    for r in solo:
        per_b.setdefault(r.benchmark, {}).setdefault(r.problem_id, []).append(r.ce_junior)
    by_hand = np.mean([np.mean([np.mean(v) for v in p.values()]) for p in per_b.values()])
    assert s["metrics"]["legibility_ce"]["macro"]["value"] == pytest.approx(by_hand)
    comp = json.loads((tmp_path / "ev" / "comparison.json").read_text())
    assert "grpo - tandem" in comp["pairs"]
    d = comp["displacement"]
    assert d["positions"] == sum(len(r.response_ids) for r in solo) * 2
    assert 0 <= d["returned"] <= d["displaced"] <= d["positions"]
    # the same seeds for every senior: the first solo sample of the same model would be identical
    grpo_recs = read_jsonl(tmp_path / "ev" / "grpo" / "samples.jsonl", SampleRecord)
    assert [r.problem_id for r in grpo_recs] == [r.problem_id for r in recs]

    from tandem_rl.report.page import build_report
    page = build_report([str(tmp_path / "ev")], out=tmp_path / "report.html")
    assert "Token displacement" in page.read_text()

    # reuse: nothing is generated again, the summaries and displacement come back the same
    from tandem_rl.cogen.engine import CoGenerator

    def no_generation(*a, **k):
        raise AssertionError("generated again")

    monkeypatch.setattr(CoGenerator, "generate", no_generation)
    again = evaluate(cfg, {"grpo": paths["grpo"], "tandem": paths["tandem"]}, junior=paths["base"],
                     base=paths["base"], output_dir=tmp_path / "ev", progress=False, reuse=True)
    assert again["labels"]["tandem"]["metrics"] == s["metrics"]
    assert again["comparison"]["displacement"]["displaced"] == d["displaced"]
    cfg.eval.n_samples, cfg.eval.displacement = 3, None
    with pytest.raises(ValueError, match="not the rows"):
        evaluate(cfg, {"tandem": paths["tandem"]}, junior=paths["base"], base=paths["base"],
                 output_dir=tmp_path / "ev", progress=False, reuse=True)


def test_helpers(tmp_path):
    assert parse_seniors(["grpo=runs/a", "runs/b/"]) == {"grpo": "runs/a", "b": "runs/b/"}
    with pytest.raises(ValueError, match="twice"):
        parse_seniors(["a=x", "a=y"])
    assert parse_groups(["g=a,b"]) == {"g": ["a", "b"]}
    assert benchmark_name("data/aime24.jsonl") == "aime24" and benchmark_name("gym:chain_sum") == "gym-chain_sum"
    (tmp_path / "checkpoints" / "step_000004").mkdir(parents=True)
    (tmp_path / "checkpoints" / "latest.txt").write_text("step_000004\n")
    assert resolve_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoints" / "step_000004")
    assert resolve_checkpoint("world:senior") == "world:senior"


def test_bad_config_is_a_clear_error(world, tmp_path):
    root, paths = world
    cfg = load_config(None, ["eval.displacement=grpo", f"eval.benchmarks=[{root / 'easy.jsonl'}]"])
    with pytest.raises(ValueError, match="GRPO_LABEL,TANDEM_LABEL"):
        evaluate(cfg, {"grpo": paths["grpo"]}, junior=paths["base"], base=paths["base"], output_dir=tmp_path)
    cfg = load_config(None, ["eval.handoff_schedules=[paragrph]"])
    with pytest.raises(ValueError, match="paragrph"):
        evaluate(cfg, {"grpo": paths["grpo"]}, junior=paths["base"], base=None, output_dir=tmp_path)
    cfg = load_config(None, ["eval.metrics=[solo,legibilty]"])
    with pytest.raises(ValueError, match="legibilty"):
        evaluate(cfg, {"grpo": paths["grpo"]}, junior=paths["base"], base=None, output_dir=tmp_path)


def test_benchmarks_use_eval_limit_not_data_limit(world):
    from tandem_rl.eval.runner import load_benchmarks

    root, _ = world
    srcs = f"eval.benchmarks=[{root / 'easy.jsonl'},{root / 'hard.jsonl'}]"
    benches, skipped = load_benchmarks(load_config(None, [srcs, "data.limit=1"]))
    assert {b: len(p) for b, p in benches.items()} == {"easy": 2, "hard": 3} and skipped == {"easy": 0, "hard": 0}
    benches, _ = load_benchmarks(load_config(None, [srcs, "eval.limit=2"]))
    assert {b: len(p) for b, p in benches.items()} == {"easy": 2, "hard": 2}
    with pytest.raises(ValueError, match="share the name"):
        load_benchmarks(load_config(None, [f"eval.benchmarks=[{root / 'easy.jsonl'},{root / 'easy.jsonl'}]"]))


def test_run_at_best_and_at_step_resolve_with_clear_errors(tmp_path):
    """Issue 16: ``RUN@best`` / ``RUN@step_000120`` name a run's kept-best and per-step checkpoints."""
    import torch
    from safetensors.torch import save_file

    from tandem_rl.train.checkpoint import BEST_RECORD, STATE_FILE

    root = tmp_path / "run" / "checkpoints"
    for name in ("step_000160", "step_000200"):
        (root / name).mkdir(parents=True)
        # an intact checkpoint's files (a missing or empty one marks a damaged checkpoint: train/checkpoint.py)
        torch.save({}, root / name / STATE_FILE)
        save_file({"w": torch.zeros(1)}, str(root / name / "model.safetensors"))
        (root / name / "config.json").write_text("{}")
    (root / "latest.txt").write_text("step_000200\n")
    run = str(tmp_path / "run")
    assert resolve_checkpoint(f"{run}@step_000160") == str(root / "step_000160")
    assert resolve_checkpoint(f"{run}@latest") == resolve_checkpoint(run) == str(root / "step_000200")
    with pytest.raises(FileNotFoundError, match=r"@best: the run keeps no best checkpoint"):
        resolve_checkpoint(f"{run}@best")
    (root / "best").mkdir()
    (root / "best" / BEST_RECORD).write_text('{"step": 120, "checkpoint": "step_000120", "metric": "eval_pass@4", '
                                              '"value": 0.5}\n')
    assert resolve_checkpoint(f"{run}@best") == str(root / "best")
    with pytest.raises(FileNotFoundError, match=r"@step_000120: no such complete checkpoint. It has: step_000160, "
                                                r"step_000200, best; step_000120 is the kept best"):
        resolve_checkpoint(f"{run}@step_000120")
    with pytest.raises(ValueError, match="RUN@best, RUN@latest or RUN@step_NNNNNN"):
        resolve_checkpoint(f"{run}@step_12")
    assert resolve_checkpoint("someone@host") == "someone@host"  # not a checkpoint name: left alone


def test_handoff_round_cap_counts_rounds_of_two_turns():
    from tandem_rl.eval.runner import eval_rollout, turn_cap

    assert turn_cap(150) == 300
    assert eval_rollout(load_config(None, ["eval.max_rounds=150"]), "paragraph").max_turns == 300
    assert eval_rollout(load_config(None, []), "paragraph").max_turns == 150   # the default keeps 150 turns
    assert eval_rollout(load_config(None, []), "word").max_turns is None
