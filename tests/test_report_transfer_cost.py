"""Issue 17 in the report: transfer curves (figure + AUC columns), the junior's share of correct handoff answers,
and cost per role for evaluations and training runs (with the tandem overhead over solo)."""

import json

import numpy as np
import pytest

from tandem_rl.eval.records import SampleRecord, TransferRecord, write_json, write_jsonl
from tandem_rl.eval.summary import compare, label_metrics
from tandem_rl.eval.transfer import label_summary, transfer_metrics
from tandem_rl.report.cost import training_cost
from tandem_rl.report.page import build_report
from tandem_rl.report.sources import RunFolder


def _sample(label, pid, j, schedule, reward, answer_author):
    return SampleRecord(label=label, benchmark="toy", problem_id=pid, sample=j, schedule=schedule,
                        response_ids=[1, 2, 3], author=[1, 0, 1] if schedule != "solo" else [1, 1, 1],
                        segments=[[1, "x"]], text="x", reward=reward, answer_author=answer_author, gold="4")


def test_junior_answer_share_by_hand():
    # p0: 2 correct (one by the junior), p1: 1 correct (mixed: not the junior's), 1 wrong by the junior
    recs = [_sample("a", "p0", 0, "paragraph", 1.0, "junior"), _sample("a", "p0", 1, "paragraph", 1.0, "senior"),
            _sample("a", "p1", 0, "paragraph", 1.0, "mixed"), _sample("a", "p1", 1, "paragraph", 0.0, "junior"),
            _sample("a", "p0", 0, "solo", 1.0, "senior")]
    m = label_metrics(recs)
    assert float(m["handoff_paragraph_junior_answer_share"].macro_value()) == pytest.approx(1 / 3)  # pooled
    assert "solo_junior_answer_share" not in m and "handoff_solo_junior_answer_share" not in m


def _transfer(label, pid, j, unit, f, reward):
    return TransferRecord(label, "toy", pid, j, unit, f, 0, 4, 2, reward=reward)


def test_report_shows_transfer_curves_answer_share_and_costs(tmp_path):
    ev = tmp_path / "eval"
    grid = [0.0, 0.5, 1.0]
    metrics = {}
    for label, good in (("grpo", 0.0), ("tandem", 1.0)):
        recs = [_sample(label, f"p{p}", j, s, 1.0, "junior" if s == "paragraph" else "senior")
                for p in range(3) for j in range(2) for s in ("solo", "paragraph")]
        transfer = [_transfer(label, f"p{p}", 0, unit, f, good if f > 0 else 1.0)
                    for p in range(3) for unit in ("tokens", "steps") for f in grid]
        write_jsonl(ev / label / "samples.jsonl", recs)
        write_jsonl(ev / label / "transfer.jsonl", transfer)
        metrics[label] = {**label_metrics(recs), **transfer_metrics(transfer)}
        if label == "grpo":  # the tandem summary is rebuilt by the report from samples + transfer records
            s = label_summary(recs, transfer, label=label, resamples=50)
            s["cost"] = {"solo": {"senior_tokens_written": 30, "junior_tokens_written": 0, "rows": 6,
                                  "seconds": 0.5, "senior_forward_seconds": 0.3, "junior_forward_seconds": 0.0,
                                  "senior_param_tokens": 6.0e7, "junior_param_tokens": 0}}
            write_json(ev / label / "summary.json", s)
            assert s["transfer_fractions"] == grid
            assert s["metrics"]["transfer_tokens_auc"]["macro"]["value"] == pytest.approx(0.25)  # [1, 0, 0]
    comp = compare(metrics, resamples=50)
    d = comp["pairs"]["grpo - tandem"]["transfer_steps_auc"]
    assert d["value"] == pytest.approx(0.25 - 1.0)
    write_json(ev / "comparison.json", comp)
    runs = []
    for name, step_s, junior_pt in (("grpo", 7.0, 0), ("tandem", 11.9, 2.0e7)):
        run = tmp_path / name
        (run / "rollouts").mkdir(parents=True)
        with open(run / "metrics.jsonl", "w") as fh:
            for step in range(3):
                fh.write(json.dumps({"step": step, "step_seconds": step_s, "rollout_seconds": step_s / 2,
                                     "senior_tokens_written": 100 if junior_pt == 0 else 60,
                                     "junior_tokens_written": 0 if junior_pt == 0 else 40,
                                     "senior_forward_seconds": 1.0, "junior_forward_seconds": 0.5 if junior_pt else 0.0,
                                     "senior_param_tokens": 1.0e8, "junior_param_tokens": junior_pt}) + "\n")
        runs.append(run)
    out = build_report([str(ev)] + [str(r) for r in runs], out=tmp_path / "report.html")
    text = out.read_text()
    assert "Transfer curves" in text and (tmp_path / "report_transfer_0.png").is_file()
    assert "transfer AUC (tokens)" in text and "transfer AUC (steps)" in text
    assert "junior wrote the answer (paragraph)" in text
    assert "Cost per role (evaluation)" in text and "senior forward (s) / sample" in text
    assert "tandem overhead over solo" in text and "1.70x" in text  # 11.9 / 7.0


def test_training_cost_overhead_by_hand():
    grpo = RunFolder(None, "grpo", [{"step": 0, "step_seconds": 6.0, "rollout_seconds": 2.0,
                                     "senior_param_tokens": 10.0, "junior_param_tokens": 0},
                                    {"step": 1, "step_seconds": 8.0, "rollout_seconds": 4.0,
                                     "senior_param_tokens": 10.0, "junior_param_tokens": 0}])
    tandem = RunFolder(None, "tandem", [{"step": 0, "step_seconds": 14.0, "rollout_seconds": 6.0,
                                         "senior_param_tokens": 10.0, "junior_param_tokens": 5.0}])
    rows = training_cost([grpo, tandem])
    assert rows[0]["overhead"]["step_seconds"] == pytest.approx(1.0)
    assert rows[1]["overhead"]["step_seconds"] == pytest.approx(2.0)     # 14 / mean(6, 8)
    assert rows[1]["overhead"]["rollout_seconds"] == pytest.approx(2.0)  # 6 / mean(2, 4)
    assert rows[1]["overhead"]["param_tokens"] == pytest.approx(1.5)     # (10 + 5) / 10
    assert np.isclose(rows[1]["step_seconds"], 14.0)
