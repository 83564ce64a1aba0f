"""The demo path end to end at CI size (a couple of steps, a few problems), the demo config, and the world recipe.

These check that the pipeline runs and writes valid artifacts; they never assert the scientific outcome.
"""

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from tandem_rl.world.demo import demo_config, format_summary, run_demo

REPO = Path(__file__).resolve().parents[1]


def test_configs_demo_yaml_matches_the_built_in_settings(monkeypatch):
    from tandem_rl.config import load_config

    from tandem_rl.world.assets import problems_file

    def resolve(source):  # the YAML names the shipped files world:train / world:test, as the data loader reads them
        return str(problems_file(source.split(":", 1)[1])) if source.startswith("world:") else source

    from_yaml, built_in = load_config(REPO / "configs/demo.yaml"), demo_config()
    from_yaml.data.source = resolve(from_yaml.data.source)
    from_yaml.eval.benchmarks = [resolve(b) for b in from_yaml.eval.benchmarks]
    assert dataclasses.asdict(from_yaml) == dataclasses.asdict(built_in)
    assert built_in.rollout.temperature == 1.0 and built_in.grpo.beta == 0.0 and built_in.train.lr == 1e-4
    assert Path(built_in.data.source).is_file() and Path(built_in.eval.benchmarks[0]).is_file()
    quick = demo_config(["train.steps=3", "eval.limit=5"])
    assert quick.train.steps == 3 and quick.eval.limit == 5


def test_demo_pipeline_smoke(tmp_path):
    cfg = demo_config([
        "train.steps=1", "train.prompts_per_step=2", "grpo.group_size=2", "train.mini_batches=1",
        "train.dump_rollouts_every=1", "reward.workers=0", "eval.limit=2", "eval.n_samples=1", "eval.bootstrap=20",
        "eval.handoff_schedules=[paragraph]", "eval.batch_size=8", "rollout.max_new_tokens=12",
        "eval.max_new_tokens=12",
    ])
    result = run_demo(cfg, tmp_path, seeds=[0], jobs=1, progress=False)
    for label in ("grpo_s0", "tandem_self_s0", "tandem_weak_s0"):
        run = tmp_path / "runs" / label
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows] == [1]
        ckpt = run / "checkpoints" / (run / "checkpoints" / "latest.txt").read_text().strip()
        assert (ckpt / "config.json").is_file() and (ckpt / "tokenizer_config.json").is_file()
        dumped = [json.loads(x) for x in next((run / "rollouts").glob("step_*.jsonl")).read_text().splitlines()]
        assert len(dumped) == 4 and all(len(r["author"]) == len(r["response_ids"]) for r in dumped)
        if label.startswith("grpo"):
            assert all(all(a == 1 for a in r["author"]) for r in dumped)  # solo schedule: senior only
    saved = {label: yaml.safe_load((tmp_path / "runs" / label / "config.yaml").read_text())["model"]["junior"]
             for label in ("tandem_self_s0", "tandem_weak_s0")}
    assert saved["tandem_self_s0"] is None and saved["tandem_weak_s0"]  # self-paired vs the world junior
    assert set(result["settings"]) == {"paper", "west"}
    for setting, partner in (("paper", cfg.model.senior), ("west", cfg.model.junior)):
        res = result["settings"][setting]
        assert set(res["labels"]) == {"initial", "grpo_s0", "tandem_self_s0", "tandem_weak_s0"}
        arm = "tandem_self" if setting == "paper" else "tandem_weak"
        assert set(res["comparison"]["group_pairs"]) == {f"{arm} - grpo", f"{arm} - initial", "grpo - initial"}
        assert res["comparison"]["pairs"] == {} and res["comparison"]["setting"] == setting
        for label in res["labels"]:
            summary = json.loads((tmp_path / "eval" / setting / label / "summary.json").read_text())
            assert summary["setting"] == setting and summary["junior"] == partner
            assert {"solo_pass@k", "handoff_paragraph_pass@k", "notation_rate", "faithful"} <= set(summary["metrics"])
            samples = [json.loads(x) for x in
                       (tmp_path / "eval" / setting / label / "samples.jsonl").read_text().splitlines()]
            assert len(samples) == 2 * 2  # 2 problems x 1 sample x (solo + paragraph)
            # error anatomy from the world's step checker: every sample has one, "none" exactly when correct
            assert all((r["failure"] == "none") == (r["reward"] >= 0.5) for r in samples)
            assert {"solo_error_false_step", "handoff_paragraph_error_by_junior"} <= set(summary["metrics"])
    html = (tmp_path / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "tandem_weak_s0" in html
    assert html.index('id="verdict"') < html.index("<h2>Results")
    assert "<h2>Error anatomy" in html
    table = format_summary(result, k=1)
    assert table.startswith("VERDICT") and "tandem_self" in table and "tandem_weak" in table


def test_compare_cards_flags_only_differences_beyond_probe_noise(tmp_path, capsys):
    from tandem_rl.cli import main
    from tandem_rl.world.card import compare_cards

    shipped = {"senior": {"acc_t1": 0.75, "terse_rate_t1": 0.10, "acc_t1_by_ops": {"2": 0.9}, "probe_n": 400},
               "junior": {"acc_t1": 0.60, "probe_n": 400}}
    close = {"senior": {"acc_t1": 0.72, "terse_rate_t1": 0.12, "probe_n": 400}, "junior": {"acc_t1": 0.63,
                                                                                          "probe_n": 400}}
    far = {"senior": {"acc_t1": 0.55, "terse_rate_t1": 0.10, "probe_n": 400}}
    rows = compare_cards(shipped, close)
    assert [r["figure"] for r in rows] == ["junior.acc_t1", "senior.acc_t1", "senior.terse_rate_t1"]
    assert all(r["agrees"] for r in rows)
    bad = {r["figure"]: r for r in compare_cards(shipped, far)}
    assert not bad["senior.acc_t1"]["agrees"] and bad["senior.acc_t1"]["z"] < -5  # 20 points on 400 problems
    for name, card in (("shipped", shipped), ("close", close), ("far", far)):
        (tmp_path / f"{name}.json").write_text(json.dumps(card))
    assert main(["world", "compare", str(tmp_path / "close.json"), "--shipped", str(tmp_path / "shipped.json")]) == 0
    assert main(["world", "compare", str(tmp_path / "far.json"), "--shipped", str(tmp_path / "shipped.json")]) == 1
    assert "differ beyond probe noise" in capsys.readouterr().out
    # a per-notation accuracy is a share of that notation's responses only: 0.085 of 47 vs 0.25 of 152 is noise-level
    d1 = {"senior": {"acc_t1_terse": 0.085, "probe_n": 400, "n_t1_by_notation": {"terse": 47}}}
    d3 = {"senior": {"acc_t1_terse": 0.25, "probe_n": 400, "n_t1_by_notation": {"terse": 152}}}
    (row,) = compare_cards(d1, d3)
    assert row["n"] == (47, 152) and 2 < row["z"] < 3 and row["agrees"]
    assert compare_cards({"senior": {"acc_t1_terse": 0.1, "probe_n": 400}}, d3) == []  # no counts: left out
    with pytest.raises(ValueError, match="different worlds"):
        compare_cards({"world_version": 1, **shipped}, {"world_version": 2, **close})


def test_world_build_command_checks_its_flags(tmp_path, capsys):
    from tandem_rl.cli import main

    assert main(["world", "build", "--only", "senior"]) == 2  # would overwrite the shipped card with one model
    assert "--only needs --out" in capsys.readouterr().err
    for bad in (["--senior-plain-share", "0.8", "--senior-terse-share", "0.3"], ["--senior-terse-share", "nan"]):
        assert main(["world", "build", "--out", str(tmp_path / "w"), *bad]) == 2
        assert "sum to <= 1" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_recipe_builds_loadable_models(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tandem_rl.world.recipe import Recipe, build

    def tiny(**kw):
        return Recipe(junior_max_steps=2, senior_steps=2, probe_n=2, jobs=1, n_train_problems=30, n_test_problems=10,
                      **kw)

    card = build(tmp_path, tiny(), progress=False, command="tandem-rl world build (test)")
    assert card["junior"]["sft_steps"] == 2 and card["senior"]["sft_steps"] == 2
    assert card["world_version"] == 2 and card["command"] == "tandem-rl world build (test)"
    assert card["built_on"]["cpus"] >= 1 and card["built_on"]["torch"]
    by_ops = card["senior"]["acc_t1_budget32_by_ops"]
    assert card["senior"]["terse_share"] == 0.30 and by_ops and set(by_ops) <= {2, 3, 4}
    assert sum(card["senior"]["n_t1_by_notation"].values()) == 2  # every probe response has one notation name
    # same command, device and threads: bitwise the same weights (docs/world.md "Re-creating them")
    again = build(tmp_path / "again", tiny(only="senior"), progress=False)
    assert "junior" not in again
    assert (tmp_path / "again/senior/model.safetensors").read_bytes() == \
        (tmp_path / "senior/model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="sum to <= 1"):
        tiny(senior_plain_share=0.8, senior_terse_share=0.3)
    assert json.loads((tmp_path / "world_card.json").read_text())["vocab_size"] == card["vocab_size"]
    assert len((tmp_path / "problems" / "test.jsonl").read_text().splitlines()) == 10
    for name in ("junior", "senior"):
        tok = AutoTokenizer.from_pretrained(tmp_path / name)
        model = AutoModelForCausalLM.from_pretrained(tmp_path / name)
        assert model.config.vocab_size == len(tok) and tok.eos_token == "<|im_end|>"


@pytest.mark.parametrize("name", ["junior", "senior"])
def test_shipped_models_behave_as_documented(name):
    """Greedy on 40 held-out problems: the junior writes plain steps only; the senior is accurate and uses jargon."""
    import torch

    from tandem_rl.models import load_model, load_tokenizer
    from tandem_rl.world.sft import probe

    torch.manual_seed(0)
    tok = load_tokenizer(f"world:{name}")
    p = probe(load_model(f"world:{name}", device="cpu"), tok, n=40, temperature=0.0)
    if name == "junior":
        assert p.jargon_rate == 0.0 and p.accuracy >= 0.5
    else:
        assert p.jargon_rate >= 0.3 and p.accuracy >= 0.75  # card: greedy 0.91, jargon 0.59 on 400 problems


def test_format_summary_reads_labels_and_seed_groups():
    def metric(v, lo, hi):
        return {"macro": {"value": v, "low": lo, "high": hi}}

    metrics = {"solo_pass@k": metric([0.5, 0.75], [0.4, 0.6], [0.6, 0.9]), "notation_rate": metric(0.25, 0.2, 0.3)}
    result = {"labels": {"initial": {"metrics": metrics}, "grpo_s0": {"metrics": {}}}, "comparison": {}}
    one = format_summary(result).splitlines()
    assert one[2].split()[:3] == ["initial", "0.50", "[0.40,0.60]"] and "0.25 [0.20,0.30]" in one[2]
    assert set(one[3].split()[1:]) == {"-"}
    assert format_summary(result, k=2).splitlines()[2].split()[1] == "0.75"  # one k: the report's
    result["comparison"] = {"groups": {"initial": {"seeds": ["initial"], "metrics": metrics},
                                       "grpo": {"seeds": ["grpo_s0", "grpo_s1"], "metrics": metrics}}}
    two = format_summary(result).splitlines()
    assert two[2].startswith("initial ") and two[3].startswith("grpo (2 seeds)") and "0.50 [0.40,0.60]" in two[3]


def test_summary_shows_each_seed_and_the_sizes_the_world_can_teach(tmp_path):
    """Issue #29: per-seed values under each pooled arm, and solo accuracy on the 2-3-operation problems with the
    ceiling they put on the overall accuracy (world problem ids; arm a solves every problem of at most 3
    operations, arm b only the 2-operation ones)."""
    import numpy as np

    from tandem_rl.eval.records import SampleRecord, write_jsonl
    from tandem_rl.eval.summary import compare, label_metrics
    from tandem_rl.world.assets import problems_file
    from tandem_rl.world.breakdown import size_view

    rows = [json.loads(x) for x in problems_file("test").read_text().splitlines()[:20]]
    small = [r for r in rows if r["n_ops"] <= 3]
    metrics, groups = {}, {"a": [], "b": []}
    for arm, solves in (("a", lambda r: r["n_ops"] <= 3), ("b", lambda r: r["n_ops"] == 2)):
        for s in range(3):
            label = f"{arm}_s{s}"
            recs = [SampleRecord(label=label, benchmark="world", problem_id=r["id"], sample=j, schedule="solo",
                                 response_ids=[1], author=[1], reward=float(solves(r) and (j + s) % 4 != 0))
                    for r in rows for j in range(2)]
            write_jsonl(tmp_path / label / "samples.jsonl", recs)
            metrics[label], groups[arm] = label_metrics(recs), groups[arm] + [label]
    comparison = compare(metrics, groups=groups, pairs=["a - b"], resamples=50)
    view = size_view(tmp_path, comparison)
    assert view["problems"] == len(small) and view["of"] == 20 and view["ceiling"] == pytest.approx(len(small) / 20)
    assert set(view["seeds"]["a"]) == {"a_s0", "a_s1", "a_s2"} and view["pairing"]["a - b"]["paired"]
    share2 = sum(r["n_ops"] == 2 for r in small) / len(small)
    seed_a = [np.mean([(j + s) % 4 != 0 for j in range(2)]) for s in range(3)]
    assert view["arms"]["a"]["value"][0] == pytest.approx(np.mean(seed_a))
    assert view["pairs"]["a - b"]["value"][0] == pytest.approx(np.mean(seed_a) * (1 - share2))
    result = {"labels": {lab: {"metrics": summarize_metrics_of(m)} for lab, m in metrics.items()},
              "comparison": comparison}
    text = format_summary(result, k=1, out=tmp_path)
    lines = text.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("a (3 seeds)"))
    assert [lines[at + i].split()[0] for i in (1, 2, 3)] == ["a_s0", "a_s1", "a_s2"]  # each seed under its arm
    assert f"cannot exceed {len(small) / 20:.2f}" in text and "could detect ±" in text and "seeds paired" in text


def summarize_metrics_of(metrics):
    from tandem_rl.eval.summary import summarize_metrics

    return summarize_metrics({k: [v] for k, v in metrics.items()}, [], resamples=50, seed=0, confidence=0.95)
