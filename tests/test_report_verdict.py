"""The verdict: rules on hand-made intervals, claims read off a fake two-setting evaluation, the page's order, and
no seed-against-seed or cross-setting paired differences (issue #23)."""

import json
from html.parser import HTMLParser

import pytest

from tandem_rl.eval.records import SampleRecord, write_json, write_jsonl
from tandem_rl.eval.summary import compare, label_metrics, summarize_label
from tandem_rl.report.page import render_page
from tandem_rl.report.sources import load_sources
from tandem_rl.report.verdict import CLAIMS, SETTINGS, Claim, judge, verdict_lines
from tandem_rl.world.demo import format_summary, setting_pairs

KEPT = Claim("paper", "solo accuracy is kept", "solo_pass@k", "higher", "kept", margin=0.02)
UP = Claim("paper", "handoff improves", "handoff_paragraph_pass@k", "higher", "improves")
DOWN = Claim("west", "notation drops", "notation_rate", "lower", "improves")


@pytest.mark.parametrize("claim, low, high, reading", [
    (UP, 0.01, 0.2, "improves"),
    (UP, -0.01, 0.2, "no difference detected"),
    (UP, -0.3, -0.1, "worse"),
    (DOWN, -0.9, -0.5, "improves"),     # lower is better: a negative difference is an improvement
    (DOWN, 0.1, 0.4, "worse"),
    (DOWN, -0.1, 0.1, "no difference detected"),
    (KEPT, -0.019, 0.01, "kept"),       # the lower end is above -2 points
    (KEPT, 0.01, 0.05, "kept"),         # better is kept too
    (KEPT, -0.05, 0.01, "not shown non-inferior"),  # reaches below the margin, but includes zero
    (KEPT, -0.08, -0.03, "lost"),
    (KEPT, -0.03, -0.001, "lost"),      # the whole interval below zero
])
def test_judge_rules(claim, low, high, reading):
    assert judge(claim, low, high) == reading


def test_claims_are_data_for_both_settings():
    names = {s.name for s in SETTINGS}
    assert names == {"paper", "west"}
    for s in names:
        mine = [c for c in CLAIMS if c.setting == s]
        assert any(c.metric == "solo_pass@k" and c.rule == "kept" and c.margin > 0 for c in mine)
        assert any(c.metric.startswith("handoff_") and c.rule == "improves" for c in mine)
    assert {c.metric for c in CLAIMS if c.setting == "paper"} >= {"drift_kl_base"}
    assert {c.metric for c in CLAIMS if c.setting == "west"} >= {"notation_rate", "legibility_ce"}


def _records(label, skill, handoff, jargon, ce, kl, n_problems=6, n=2, seed=0):
    recs = []
    for p in range(n_problems):
        for j in range(n):
            for schedule, ok in (("solo", skill), ("paragraph", handoff)):
                recs.append(SampleRecord(
                    label=label, benchmark="toy", problem_id=f"p{p}", sample=j, schedule=schedule,
                    response_ids=[1, 2, 3], author=[1, 1, 1] if schedule == "solo" else [1, 0, 0],
                    segments=[[1, "2+2 is \\boxed{4}"]], text="2+2 is \\boxed{4}", gold="4",
                    reward=float((p + j + seed) % 10 < ok * 10), ce_junior=ce + 0.01 * seed, kl_base=kl,
                    kl_junior=kl,
                    notation=(p % 10) < jargon * 10 if schedule == "solo" else None))
    return recs


# arm -> (solo, handoff, jargon, junior CE, KL to base) per partner; three seeds per arm (a seed moves which problems
# succeed, and the CE a little: per-seed values differ, as real seeds do)
ARMS = {
    "initial": (0.9, 0.5, 0.7, 7.0, 0.0),
    "grpo": (1.0, 0.1, 1.0, 11.0, 0.5),
    "tandem_self": (1.0, 0.8, 1.0, 11.0, 0.2),
    "tandem_weak": (1.0, 0.8, 0.0, 0.1, 1.0),
}


def fake_demo_eval(root):
    """``root/eval/{paper,west}`` as the demo writes them, from hand-made records (no model)."""
    for setting in SETTINGS:
        out = root / "eval" / setting.name
        metrics, groups = {}, {"initial": ["initial"]}
        for arm, (solo, hand, jargon, ce, kl) in ARMS.items():
            seeds = ["initial"] if arm == "initial" else [f"{arm}_s{s}" for s in range(3)]
            if arm != "initial":
                groups[arm] = seeds
            for i, label in enumerate(seeds):
                recs = _records(label, solo, hand, jargon, ce, kl, seed=i)
                write_jsonl(out / label / "samples.jsonl", recs)
                summary = summarize_label(recs, label=label, resamples=50)
                summary["setting"] = setting.name
                write_json(out / label / "summary.json", summary)
                metrics[label] = label_metrics(recs)
        comp = compare(metrics, groups=groups, pairs=setting_pairs(setting), resamples=50)
        comp["setting"] = setting.name
        write_json(out / "comparison.json", comp)
    return root / "eval"


def test_verdict_reads_claims_of_both_settings(tmp_path):
    src = load_sources([str(fake_demo_eval(tmp_path) / s.name) for s in SETTINGS])
    lines = verdict_lines(src.evals, k=1)
    got = {(ln.setting.name, ln.claim.metric): ln.reading for ln in lines}
    assert got[("paper", "handoff_paragraph_pass@k")] == "improves"
    assert got[("paper", "drift_kl_base")] == "improves"
    assert got[("paper", "solo_pass@k")] == "kept"
    assert got[("west", "notation_rate")] == "improves"
    assert got[("west", "legibility_ce")] == "improves"
    assert len(lines) == len(CLAIMS)
    paper_solo = next(ln for ln in lines if ln.setting.name == "paper" and ln.claim.metric == "solo_pass@k")
    assert paper_solo.seeds == 3 and paper_solo.values["grpo"]["value"][0] == pytest.approx(1.0)
    assert paper_solo.pairing["paired"] and paper_solo.pairing["seeds"][2] == ["tandem_self_s2", "grpo_s2"]
    hand = next(ln for ln in lines if ln.setting.name == "paper" and ln.claim.metric.startswith("handoff"))
    assert hand.diff["df"][0] == 2.0 and hand.diff["seeds_paired"] and hand.diff["n_seeds"] == [3, 3]
    assert 0 < hand.diff["se"][0] < hand.diff["mdd"][0]


def test_no_seed_against_seed_and_no_cross_setting_pairs(tmp_path):
    root = fake_demo_eval(tmp_path)
    arms = {s.name: s.arm for s in SETTINGS}
    for s in SETTINGS:
        comp = json.loads((root / s.name / "comparison.json").read_text())
        assert comp["pairs"] == {}  # no label against label: seeds are pooled into arms
        other = next(a for n, a in arms.items() if n != s.name)
        assert set(comp["group_pairs"]) == {f"{s.arm} - grpo", f"{s.arm} - initial", "grpo - initial"}
        assert not any(other in p for p in comp["group_pairs"])
    page, _ = render_page(load_sources([str(root / s.name) for s in SETTINGS]))
    differences = [seg.split("</table>")[0] for seg in page.split("Differences (row a minus row b")[1:]]
    assert len(differences) == 2
    for table in differences:
        assert "_s0 -" not in table and "_s1 -" not in table
        assert not ("tandem_self" in table and "tandem_weak" in table)


def test_compare_pairs_restricts_and_orders():
    recs = {lab: label_metrics(_records(lab, 0.5, 0.5, 0.5, 1.0 + i, 0.1)) for i, lab in enumerate("abc")}
    c = compare(recs, pairs=["c - a"], resamples=20)
    assert list(c["pairs"]) == ["c - a"]
    assert c["pairs"]["c - a"]["legibility_ce"]["value"] == pytest.approx(2.0)
    assert len(compare(recs, resamples=20)["pairs"]) == 3  # default: every pair, as before
    with pytest.raises(ValueError):
        compare(recs, pairs=["a-b"], resamples=20)


class Headings(HTMLParser):
    def __init__(self):
        super().__init__()
        self.order = []

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "table", "details", "section"):
            self.order.append((tag, dict(attrs).get("id")))


def test_page_opens_with_the_verdict_and_one_k(tmp_path):
    root = fake_demo_eval(tmp_path)
    page, _ = render_page(load_sources([str(root / s.name) for s in SETTINGS]), k=1)
    h = Headings()
    h.feed(page)
    assert h.order[0] == ("section", "verdict") and h.order[1][0] == "h2"
    first_h2 = page.index("<h2>")
    assert page.index('id="verdict"') < first_h2 < page.index("Results:")
    assert page.count('class="setting"') == 2
    assert "pass@4" not in page and "solo pass@1" in page
    # per-seed rows hide in a collapsed section; the arm table is pooled
    results = page[page.index("Results:"):]
    assert results.index("pooled over 3 seeds") < results.index("<details>") < results.index("tandem_self_s0")
    # the verdict names the paired seeds and says what each line could detect
    verdict = page[:page.index("Results:")]
    assert "paired by seed (tandem_self_s0~grpo_s0, tandem_self_s1~grpo_s1, tandem_self_s2~grpo_s2)" in verdict
    assert verdict.count("could detect ±") == 7 and "kept (within 2 points)" in verdict


def test_format_summary_prints_the_verdict_first(tmp_path):
    root = fake_demo_eval(tmp_path)
    src = load_sources([str(root / s.name) for s in SETTINGS])
    result = {"settings": {ev.comparison["setting"]: {"labels": ev.summaries, "comparison": ev.comparison}
                           for ev in src.evals}}
    text = format_summary(result, k=1)
    assert text.startswith("VERDICT")
    assert text.index("Paper's setting") < text.index("West et al.'s setting") < text.index("model ")
    assert "IMPROVES" in text and "KEPT (WITHIN 2 POINTS)" in text
    assert text.count("could detect ±") == 7 and "paired by seed (tandem_self_s0~grpo_s0" in text
    assert "tandem_self (3 seeds)" in text


def test_verdict_docstring_examples():
    import doctest

    from tandem_rl.report import verdict

    result = doctest.testmod(verdict)
    assert result.attempted >= 3 and result.failed == 0
