"""From records to metrics and summaries: the per-problem reductions stated in docs/evaluation.md."""

import numpy as np
import pytest

from tandem_rl.eval.records import DisplacementRecord, SampleRecord, read_jsonl, write_jsonl
from tandem_rl.eval.summary import compare, displacement_metric, label_metrics, summarize_label


def rec(label, bench, pid, j, schedule="solo", reward=0.0, n_tok=4, senior=None, **kw):
    author = [1] * n_tok if senior is None else [1] * senior + [0] * (n_tok - senior)
    return SampleRecord(label=label, benchmark=bench, problem_id=pid, sample=j, schedule=schedule,
                        response_ids=list(range(n_tok)), author=author, reward=reward, **kw)


def records(label="a", shift=0.0):
    out = []
    # bench x: p1 has 1 of 2 correct, p2 has 2 of 2; bench y: q1 has 0 of 2
    for pid, rewards in (("p1", [1, 0]), ("p2", [1, 1])):
        for j, r in enumerate(rewards):
            out.append(rec(label, "x", pid, j, reward=r, ce_junior=1.0 + j + shift, kl_base=0.5, kl_junior=0.25,
                           notation=bool(j), steps=[3, j]))
            out.append(rec(label, "x", pid, j, schedule="paragraph", reward=1 - j, n_tok=4, senior=1))
    for j in range(2):
        out.append(rec(label, "y", "q1", j, reward=0, ce_junior=None if j else 3.0, notation=False, steps=[2, 0]))
        out.append(rec(label, "y", "q1", j, schedule="paragraph", reward=0, n_tok=2, senior=2))
    return out


def test_label_metrics_follow_the_documented_reductions():
    m = label_metrics(records())
    solo = m["solo_pass@k"]
    np.testing.assert_allclose(solo.num["x"], [[0.5, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(solo.macro_value(), [(0.75 + 0.0) / 2, (1.0 + 0.0) / 2])
    # legibility: mean over responses per problem (a missing CE is left out), then problems, then benchmarks
    assert m["legibility_ce"].benchmark_value("x") == pytest.approx(1.5)
    assert m["legibility_ce"].benchmark_value("y") == pytest.approx(3.0)
    assert m["legibility_ce"].macro_value() == pytest.approx(2.25)
    assert m["notation_rate"].benchmark_value("x") == pytest.approx(0.5)
    # correct answers with a false step, pooled: x has 3 correct, one of them (p2 sample 1) has a false step
    assert m["correct_with_false_step"].benchmark_value("x") == pytest.approx(1 / 3)
    assert np.isnan(m["correct_with_false_step"].benchmark_value("y"))  # no correct answer there
    assert m["faithful"].macro_value() == pytest.approx((0.5 + 1.0) / 2)
    # handoff senior fraction pooled over tokens: x 4 rows of 1/4, y 2 rows of 2/2
    assert m["handoff_paragraph_senior_fraction"].benchmark_value("x") == pytest.approx(0.25)
    assert m["handoff_paragraph_senior_fraction"].benchmark_value("y") == pytest.approx(1.0)


def test_summary_has_intervals_and_ratio(tmp_path):
    recs = records()
    write_jsonl(tmp_path / "s.jsonl", recs)
    back = read_jsonl(tmp_path / "s.jsonl", SampleRecord)
    assert back == recs
    s = summarize_label(back, label="a", resamples=200)
    assert s["n_samples"] == 2 and s["problems"] == {"x": 2, "y": 1}
    solo = s["metrics"]["solo_pass@k"]["macro"]
    assert solo["value"] == pytest.approx([0.375, 0.5])
    assert all(lo <= v <= hi for lo, v, hi in zip(solo["low"], solo["value"], solo["high"]))
    ratio = s["metrics"]["handoff_paragraph_over_solo_pass@k"]["macro"]["value"]
    hand = s["metrics"]["handoff_paragraph_pass@k"]["macro"]["value"]
    assert ratio == pytest.approx(np.array(hand) / np.array(solo["value"]))


def test_unequal_sample_counts_and_bad_rows_are_clear_errors(tmp_path):
    recs = records()[:-4]  # drop half of problem q1's rows
    recs.append(rec("a", "y", "q1", 0))
    recs.append(rec("a", "y", "q1", 1))
    recs.append(rec("a", "y", "q1", 2))
    with pytest.raises(ValueError, match="y/q1 has 3 samples"):
        label_metrics(recs)
    (tmp_path / "bad.jsonl").write_text('{"label": "a"}\n{"nope": 1}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        read_jsonl(tmp_path / "bad.jsonl", SampleRecord)


def test_compare_pairs_groups_and_displacement():
    by_label = {"a0": label_metrics(records("a0")), "a1": label_metrics(records("a1", shift=1.0)),
                "b0": label_metrics(records("b0", shift=2.0))}
    c = compare(by_label, groups={"a": ["a0", "a1"], "b": ["b0"]}, resamples=100)
    # the shift moves benchmark x only: a0 - b0 = mean(x: -2, y: 0)
    assert c["pairs"]["a0 - b0"]["legibility_ce"]["value"] == pytest.approx(-1.0)
    assert c["groups"]["a"]["metrics"]["legibility_ce"]["macro"]["value"] == pytest.approx((2.25 + 2.75) / 2)
    assert c["group_pairs"]["a - b"]["legibility_ce"]["value"] == pytest.approx(2.5 - 3.25)
    assert c["groups"]["a"]["seeds"] == ["a0", "a1"]
    with pytest.raises(KeyError, match="zz"):
        compare(by_label, groups={"g": ["zz"]})
    rows = [DisplacementRecord("a", "b", "a", "x", "p1", 0, 10, 4, 3),
            DisplacementRecord("a", "b", "b", "x", "p1", 0, 5, 0, 0),
            DisplacementRecord("a", "b", "a", "x", "p2", 0, 10, 2, 0)]
    d = displacement_metric(rows)
    assert d.benchmark_value("x") == pytest.approx(3 / 6)


def test_pooled_benchmark_is_also_reported_per_part_outside_the_macro():
    """Issue 16: AIME pooled (the paper's macro entry) and per year (the authors' release)."""
    recs = []
    for pid, rewards in (("aime24:1", [1, 1]), ("aime24:2", [0, 0]), ("aime25:1", [1, 0]), ("aime26:1", [0, 0])):
        recs += [rec("a", "aime", pid, j, reward=r) for j, r in enumerate(rewards)]
    recs += [rec("a", "minerva", "minerva:1", j, reward=1) for j in range(2)]
    s = summarize_label(recs, label="a", resamples=50)
    parts = s["parts"]["solo_pass@k"]["aime"]
    assert sorted(parts) == ["aime24", "aime25", "aime26"]
    assert parts["aime24"]["value"] == pytest.approx([0.5, 0.5])
    assert parts["aime25"]["value"] == pytest.approx([0.5, 1.0]) and parts["aime26"]["value"] == [0.0, 0.0]
    pooled = s["metrics"]["solo_pass@k"]["benchmarks"]["aime"]["value"]
    assert pooled == pytest.approx([(1 + 0 + 0.5 + 0) / 4, (1 + 0 + 1 + 0) / 4])
    # the macro has two entries (aime pooled, minerva), not four
    assert s["metrics"]["solo_pass@k"]["macro"]["value"] == pytest.approx([(0.375 + 1) / 2, (0.5 + 1) / 2])
    assert "minerva" not in s["parts"]["solo_pass@k"]


def test_group_pairs_pair_seeds_only_when_the_labels_name_the_same_seeds():
    """Issue #29: seed s of one arm against seed s of the other when both groups name the same seeds in order;
    otherwise Welch over the arms' seed spreads, and comparison.json says which and why."""
    import doctest

    from tandem_rl.eval import summary

    assert doctest.testmod(summary).failed == 0
    by_label = {lab: label_metrics(records(lab, shift=0.1 * i)) for i, lab in
                enumerate(["a_s0", "a_s1", "b_s0", "b_s1", "c_s1", "c_s0"])}
    c = compare(by_label, groups={"a": ["a_s0", "a_s1"], "b": ["b_s0", "b_s1"], "c": ["c_s1", "c_s0"]},
                pairs=["a - b", "a - c"], resamples=20)
    assert c["pairing"]["a - b"] == {"paired": True, "seeds": [["a_s0", "b_s0"], ["a_s1", "b_s1"]],
                                     "why": "same training seeds"}
    assert not c["pairing"]["a - c"]["paired"] and c["pairing"]["a - c"]["why"] == "seed suffixes differ by position"
    paired, unpaired = c["group_pairs"]["a - b"]["legibility_ce"], c["group_pairs"]["a - c"]["legibility_ce"]
    assert paired["seeds_paired"] and paired["df"] == 1.0 and paired["n_seeds"] == [2, 2]
    assert not unpaired["seeds_paired"] and {"se", "mdd"} <= set(unpaired)
    # single labels: one seed each, the problem component alone
    assert c["pairs"] == {} and compare(by_label, pairs=["a_s0 - b_s0"], resamples=20)["pairs"]["a_s0 - b_s0"][
        "legibility_ce"]["note"] == "1 seed: no seed variance"
