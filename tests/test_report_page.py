"""The report renders from a tiny fake eval folder and run folder: images decodable, model text escaped."""

import base64
import io
import json
from html.parser import HTMLParser

import matplotlib.image
import pytest

from tandem_rl.eval.records import SampleRecord, write_json, write_jsonl
from tandem_rl.eval.summary import compare, label_metrics, summarize_label
from tandem_rl.report.command import add_arguments, run
from tandem_rl.report.transcripts import from_rollout_row, merge_runs, render

EVIL = '<script>alert("x")</script><img src=http://evil/x.png>'


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.text, self.spans = [], [], [], []
        self._span = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "span":
            self._span = a.get("class")

    def handle_endtag(self, tag):
        if tag == "span":
            self._span = None

    def handle_data(self, data):
        self.text.append(data)
        if self._span in ("senior", "junior"):
            self.spans.append((self._span, data))


def sample(label, pid, j, schedule, reward, segments):
    text = "".join(s for _, s in segments)
    author = [a for a, s in segments for _ in s]
    return SampleRecord(label=label, benchmark="toy", problem_id=pid, sample=j, schedule=schedule,
                        response_ids=list(range(len(text))), author=author, segments=[list(s) for s in segments],
                        text=text, reward=reward, gold="4", ce_junior=0.5 + j, kl_base=0.1)


@pytest.fixture()
def folders(tmp_path):
    ev = tmp_path / "eval"
    by_label = {}
    for label, bonus in (("grpo", 0), ("tandem", 1)):
        recs = []
        for p in range(3):
            for j in range(2):
                recs.append(sample(label, f"p{p}", j, "solo", float((p + j + bonus) % 2), [(1, "2+2 is \\boxed{4}")]))
                recs.append(sample(label, f"p{p}", j, "paragraph", float(j == 0),
                                   [(1, "Let us add.\n\n"), (0, EVIL), (1, " so \\boxed{4}")]))
        write_jsonl(ev / label / "samples.jsonl", recs)
        by_label[label] = label_metrics(recs)
        if label == "grpo":  # the other summary is rebuilt by the report from its samples
            write_json(ev / label / "summary.json", summarize_label(recs, label=label, resamples=50))
    write_json(ev / "comparison.json", compare(by_label, resamples=50))
    run_dir = tmp_path / "run"
    (run_dir / "rollouts").mkdir(parents=True)
    with open(run_dir / "metrics.jsonl", "w") as fh:
        for step in range(5):
            fh.write(json.dumps({"step": step, "reward_mean": step / 5, "senior_fraction": 0.5}) + "\n")
        fh.write('{"step": 5, "reward_me')  # a half-written last line is skipped
    row = {"step": 4, "prompt_index": 0, "prompt": "What is 2+2? " + EVIL, "tokens": ["Two", " plus", EVIL],
           "response_ids": [1, 2, 3], "author": [1, 1, 0], "reward": 1.0, "gold": "4", "extracted": "4",
           "finish_reason": "eos"}
    (run_dir / "rollouts" / "step_000004.jsonl").write_text(json.dumps(row) + "\n")
    return ev, run_dir, tmp_path


def test_report_renders_self_contained_and_escaped(folders):
    import argparse

    ev, run_dir, tmp = folders
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp / "out" / "report.html"
    assert run(parser.parse_args([str(ev), str(run_dir), "--out", str(out), "--k", "2"])) == 0
    text = out.read_text()
    page = Page()
    page.feed(text)
    assert "script" not in page.tags and "link" not in page.tags  # escaped model text, no external code
    assert len(page.imgs) == 3  # pass@k curves + accuracy-vs-legibility trade-off (one point per label) + training
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,")
        img = matplotlib.image.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert img.shape[0] > 50 and img.shape[1] > 50
    assert sorted(p.name for p in out.parent.glob("*.png")) == ["report_passk_0.png", "report_tradeoff_0.png",
                                                                 "report_training.png"]
    assert "Trade-off: accuracy vs legibility" in "".join(page.text)
    body = "".join(page.text)
    assert EVIL in body  # shown as text, literally
    assert ("junior", EVIL) in page.spans and any(k == "senior" for k, _ in page.spans)
    assert "solo pass@2" in body and "handoff (paragraph) pass@2" in body and "legibility" in body
    assert "tandem" in body and "grpo - tandem" in body
    assert "http://evil" not in " ".join(page.imgs)


def test_transcript_pieces():
    assert merge_runs([(1, "a"), (1, "b"), (0, "c")]) == [(1, "ab"), (0, "c")]
    t = from_rollout_row({"tokens": ["Four", " is", " <b>"], "author": [1, 1, 0], "step": 3}, run="r")
    assert t.segments == [(1, "Four is"), (0, " <b>")]
    assert '<span class="junior"> &lt;b&gt;</span>' in render(t)
    assert from_rollout_row({"tokens": ["a"], "author": [1, 0]}, run="r") is None


def test_report_rejects_a_folder_with_nothing_in_it(tmp_path):
    from tandem_rl.report.page import build_report
    from tandem_rl.errors import InputFileError

    with pytest.raises(InputFileError, match="neither"):
        build_report([str(tmp_path)], out=tmp_path / "r.html")
