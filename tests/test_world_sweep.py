"""tandem-rl sweep: the grid, the sweep YAML, the trade-off view of the report, and a CI-size sweep end to end."""

import json
from pathlib import Path

import pytest

from tandem_rl.report.sources import EvalFolder
from tandem_rl.report.tradeoff import handoff_metric, tradeoff_figure, tradeoff_points, tradeoff_table
from tandem_rl.world.sweep import (DEFAULT_GRID, DONE_FILE, grid_points, load_sweep_file, parse_grid_args, plan,
                                   run_sweep)

REPO = Path(__file__).resolve().parents[1]


def test_grid_points_is_the_product_with_readable_unique_names():
    pts = grid_points(DEFAULT_GRID)
    assert len(pts) == 2 * 3 * 2
    assert len({n for n, _ in pts}) == len(pts)
    assert pts[0] == ("p0.25_mix0_jT0.7", {"rollout.p": 0.25, "grpo.solo_mix": 0, "rollout.junior_temperature": 0.7})
    assert {tuple(p.values()) for _, p in pts} == {(a, b, c) for a in (0.25, 0.5) for b in (0, 0.25, 0.5)
                                                   for c in (0.7, 1.0)}


def test_grid_arguments_and_bad_grids():
    assert parse_grid_args(["rollout.p=0.25,0.5", "grpo.beta=0"]) == {"rollout.p": [0.25, 0.5], "grpo.beta": [0]}
    with pytest.raises(ValueError, match="key=v1,v2"):
        parse_grid_args(["rollout.p"])
    with pytest.raises(ValueError, match="section.field"):
        grid_points({"p": [0.5]})
    with pytest.raises(ValueError, match="non-empty list"):
        grid_points({"rollout.p": []})
    with pytest.raises(ValueError, match="empty"):
        grid_points({})


def test_path_values_make_folder_names_and_user_overrides_win(tmp_path):
    pts = grid_points({"model.junior": ["/tmp/juniors/weak030/", "world:junior"]})
    assert [n for n, _ in pts] == ["juniorweak030", "juniorworld-junior"]
    with pytest.raises(ValueError, match="share a label"):
        grid_points({"model.junior": ["/a/junior", "/b/junior"]})
    jobs = plan({"rollout.p": [0.5]}, [0], ["train.save_every=40", "train.keep_last=0"], tmp_path)
    assert all(j["cfg"].train.save_every == 40 and j["cfg"].train.keep_last == 0 for j in jobs)
    assert plan({"rollout.p": [0.5]}, [0], [], tmp_path)[0]["cfg"].train.save_every == 10  # the sweep's default


def test_sweep_summary_uses_the_reports_k_not_the_seed_count(tmp_path, monkeypatch):
    import argparse

    from tandem_rl.world import sweep

    seen = {}
    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **kw: {"eval": {}})
    monkeypatch.setattr(sweep, "format_summary", lambda result, k, out=None: seen.setdefault("k", k) and "VERDICT\n")
    args = argparse.Namespace(threads=1, config=None, grid=["rollout.p=0.5"], seeds=3, seed=0, out=str(tmp_path),
                              quick=False, jobs=1, overrides=[])
    assert sweep.run(args) == 0
    assert seen["k"] == 1  # configs/demo.yaml's eval.report_k, whatever the number of seeds


def test_sweep_yaml_loads_and_every_run_config_validates(tmp_path):
    spec = load_sweep_file(str(REPO / "configs" / "sweep.yaml"))
    jobs = plan(spec["grid"], [0], spec.get("overrides") or [], tmp_path, spec.get("base"))
    assert len(jobs) == 1 + len(grid_points(spec["grid"]))
    assert jobs[0]["label"] == "grpo_s0" and jobs[0]["cfg"].rollout.schedule == "solo"
    for j in jobs[1:]:
        assert j["cfg"].rollout.schedule == "word"
        assert j["cfg"].rollout.p == j["settings"]["rollout.p"]
        assert j["cfg"].grpo.solo_mix == j["settings"]["grpo.solo_mix"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {rollout.p: [0.5]}\nsteps: 3\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_sweep_file(str(bad))
    with pytest.raises(Exception, match="no_such_field"):  # a typo in a grid key fails before anything trains
        plan({"rollout.no_such_field": [1]}, [0], [], tmp_path)


def _est(v, lo, hi, vector=False):
    return {"macro": {"value": [v] if vector else v, "low": [lo] if vector else lo, "high": [hi] if vector else hi}}


def _metrics(solo, hand, ce, faithful):
    return {"solo_pass@k": _est(solo, solo - 0.05, solo + 0.05, True),
            "handoff_paragraph_pass@k": _est(hand, hand - 0.05, hand + 0.05, True),
            "handoff_word_pass@k": _est(0.5, 0.4, 0.6, True),
            "legibility_ce": _est(ce, ce - 0.5, ce + 0.5), "faithful": _est(faithful, faithful - 0.1, faithful),
            "correct_with_false_step": _est(0.03, 0.0, 0.06)}


def test_tradeoff_points_with_and_without_a_sweep_manifest(tmp_path):
    summaries = {"initial": {"metrics": _metrics(0.88, 0.26, 6.9, 0.89)},
                 "grpo_s0": {"metrics": _metrics(0.95, 0.03, 11.0, 0.95)},
                 "p0.5_s0": {"metrics": _metrics(0.75, 0.65, 0.2, 0.76)},
                 "p0.5_s1": {"metrics": _metrics(0.70, 0.60, 0.3, 0.70)}}
    groups = {"p0.5": {"seeds": ["p0.5_s0", "p0.5_s1"], "metrics": _metrics(0.725, 0.625, 0.25, 0.73)}}
    plain = tradeoff_points(EvalFolder(tmp_path, summaries, {"groups": groups}))
    assert [(p.name, p.kind) for p in plain] == [("initial", "initial"), ("grpo_s0", "baseline"), ("p0.5", "point")]
    assert plain[2].seeds == 2 and plain[2].get("solo_pass@k") == pytest.approx((0.725, 0.675, 0.775))
    manifest = {"baseline": "grpo", "points": {"p0.5": {"rollout.p": 0.5}},
                "labels": {"grpo_s0": {"point": "grpo", "seed": 0}, "p0.5_s0": {"point": "p0.5", "seed": 0},
                           "p0.5_s1": {"point": "p0.5", "seed": 1}}}
    pts = tradeoff_points(EvalFolder(tmp_path, summaries, {"groups": groups}, manifest))
    assert [(p.name, p.kind, p.seeds) for p in pts] == [("initial", "initial", 1), ("grpo", "baseline", 1),
                                                         ("p0.5", "point", 2)]
    assert pts[2].settings == {"rollout.p": 0.5} and pts[1].get("legibility_ce") == (11.0, 10.5, 11.5)
    assert handoff_metric(pts) == "handoff_paragraph_pass@k"
    table = tradeoff_table(pts)
    assert "all steps true" in table and "73.0 [63.0, 73.0]" in table and "<td>0.5</td>" in table
    assert tradeoff_figure(pts).startswith(b"\x89PNG")
    assert tradeoff_figure([]) is None


TINY = ["train.steps=2", "train.prompts_per_step=2", "grpo.group_size=2", "train.mini_batches=1",
        "train.dump_rollouts_every=1", "reward.workers=0", "eval.limit=2", "eval.n_samples=1", "eval.bootstrap=20",
        "eval.max_new_tokens=12", "eval.handoff_schedules=[paragraph]", "rollout.max_new_tokens=12"]


def test_sweep_smoke_runs_skips_finished_runs_and_reports_the_tradeoff(tmp_path):
    grid = {"grpo.solo_mix": [0, 0.5]}
    first = run_sweep(grid, tmp_path, overrides=TINY, jobs=1, progress=False)
    labels = ["grpo_s0", "mix0_s0", "mix0.5_s0"]
    assert sorted(first["trained"]) == sorted(labels) and first["skipped"] == []
    for label in labels:
        done = json.loads((tmp_path / "runs" / label / DONE_FILE).read_text())
        assert done["label"] == label and done["resumed"] is False
    assert set(first["eval"]["labels"]) == {"initial", *labels}
    page = (tmp_path / "report.html").read_text()
    assert "Trade-off: accuracy vs legibility" in page and "all steps true" in page
    assert (tmp_path / "report_tradeoff_0.png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((tmp_path / "eval" / "sweep.json").read_text())
    assert manifest["points"] == {"mix0": {"grpo.solo_mix": 0}, "mix0.5": {"grpo.solo_mix": 0.5}}

    # A finished run is skipped; one without its marker (as after a crash) resumes from its checkpoint.
    (tmp_path / "runs" / "mix0.5_s0" / DONE_FILE).unlink()
    second = run_sweep(grid, tmp_path, overrides=TINY, jobs=1, progress=False)
    assert second["trained"] == ["mix0.5_s0"] and sorted(second["skipped"]) == ["grpo_s0", "mix0_s0"]
    assert json.loads((tmp_path / "runs" / "mix0.5_s0" / DONE_FILE).read_text())["resumed"] is True
    assert all(s.get("reused") for s in second["eval"]["labels"].values())  # evaluations are reused too
    metrics = (tmp_path / "runs" / "mix0.5_s0" / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == 2  # the resumed run did not train extra steps
