"""`tandem-rl world breakdown`: accuracy per number of operations and notation shares of an evaluation folder."""

import json

import pytest
import yaml

from tandem_rl.world.breakdown import breakdown, format_breakdown
from tandem_rl.world.problems import jargon_solution, make_problem, plain_solution, terse_solution


def _folder(tmp_path, gold_shift=0):
    problems = [make_problem(20, [("-", 2), ("-", 1)]), make_problem(5, [("+", 2), ("+", 1), ("+", 4), ("-", 3)])]
    rows = [{"id": f"p{i}", "problem": p.text, "answer": str(p.answer), "n_ops": len(p.ops), "key": p.key}
            for i, p in enumerate(problems)]
    bench = tmp_path / "test.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ev = tmp_path / "eval"
    (ev / "grpo_s0").mkdir(parents=True)
    (ev / "grpo_s1").mkdir()
    (ev / "eval_config.yaml").write_text(yaml.safe_dump({"eval": {"benchmarks": [str(bench)]}}))
    recs = {  # (label, problem, text, reward)
        "grpo_s0": [(0, jargon_solution(problems[0]), 1.0), (1, terse_solution(problems[1]), 1.0)],
        "grpo_s1": [(0, plain_solution(problems[0]), 1.0), (1, " 7\n\n 8\n\n 12", 0.0)],
    }
    for label, items in recs.items():
        with open(ev / label / "samples.jsonl", "w") as f:
            for i, text, reward in items:
                f.write(json.dumps({"label": label, "problem_id": f"test:p{i}", "schedule": "solo", "text": text,
                                    "reward": reward, "gold": str(problems[i].answer + gold_shift)}) + "\n")
    return ev


def test_breakdown_pools_seeds_and_splits_by_ops_and_notation(tmp_path):
    rows = breakdown(_folder(tmp_path))
    r = rows[("grpo", "solo")]
    assert r["n"] == 4 and r["acc"] == 0.75
    assert r["acc_by_ops"] == {2: 1.0, 4: 0.5}
    assert r["notation"] == {"plain": 0.25, "jargon": 0.25, "terse": 0.5, "mixed": 0.0, "none": 0.0}
    assert r["acc_by_notation"]["terse"] == 0.5
    per_seed = breakdown(tmp_path / "eval", pool_seeds=False)
    assert set(per_seed) == {("grpo_s0", "solo"), ("grpo_s1", "solo")}
    assert per_seed[("grpo_s0", "solo")]["acc"] == 1.0
    text = format_breakdown(rows)
    assert "4 ops" in text and "terse" in text and "0.750" in text


def test_card_and_breakdown_doctests():
    import doctest

    import tandem_rl.world.breakdown as breakdown_module
    import tandem_rl.world.card as card_module

    for module in (card_module, breakdown_module):
        assert doctest.testmod(module).failed == 0


def test_breakdown_refuses_records_of_another_problem_file(tmp_path):
    with pytest.raises(ValueError, match="changed since this evaluation"):
        breakdown(_folder(tmp_path, gold_shift=1))
    with pytest.raises(FileNotFoundError, match="samples.jsonl"):
        breakdown(tmp_path)


def test_breakdown_command_prints_tables_and_json(tmp_path, capsys):
    from tandem_rl.cli import main

    ev = _folder(tmp_path)
    assert main(["world", "breakdown", str(ev)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("schedule solo") and "grpo" in out and "4 ops" in out
    assert main(["world", "breakdown", str(ev), "--per-seed", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert set(rows) == {"grpo_s0 | solo", "grpo_s1 | solo"} and rows["grpo_s1 | solo"]["acc"] == 0.5
    assert main(["world", "breakdown", str(tmp_path / "nowhere")]) == 2
    assert "no <label>/samples.jsonl" in capsys.readouterr().err
