"""End to end in a real headless Chromium: a scripted person plays two problems of the world with two blind
seniors on `tandem-rl play`'s page; then the records and `tandem-rl report` are checked.

Set ``PLAY_SCREENSHOTS=docs/img`` to refresh the screenshots in docs/play.md."""

import os
import re
import shutil
import threading

import pytest
from browser import browser  # noqa: F401  (the shared fixture, tests/browser.py)

from tandem_rl.cli import main
from tandem_rl.config import load_config
from tandem_rl.play.command import build_study
from tandem_rl.play.records import read_records
from tandem_rl.play.server import make_server


def person_step(problem, turns_so_far: int, mark: bool) -> str:
    """A scripted person who does one operation per step (a world problem's ``key`` is e.g. ``11+5-2``) and boxes
    the answer once every operation is done; ``mark`` adds markup that must stay text."""
    nums = [int(x) for x in re.findall(r"[+-]?\d+", problem.meta["key"])]
    i = turns_so_far + 1  # one operation per step so far, the senior's included
    prefix = " <b>not markup</b>" if mark else ""
    if i >= len(nums):
        return f"{prefix} so \\boxed{{{problem.answer}}}"
    total = sum(nums[:i])
    return f"{prefix} {total} {'plus' if nums[i] > 0 else 'minus'} {abs(nums[i])} is {total + nums[i]} ."


@pytest.fixture()
def served(tmp_path):
    cfg = load_config("configs/demo.yaml")
    study = build_study(cfg, {"first": "world:senior", "second": "world:senior"}, problems="world:test", limit=2,
                        protocols=("handoff_human",), out=tmp_path / "play", seed=1)
    srv = make_server(study)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()
    study.pool.close()


def test_a_person_plays_two_problems(browser, served, tmp_path, capsys):  # noqa: F811
    shots = tmp_path / "shots"
    shots.mkdir()
    by_text = {p.problem: p for p in served.study.problems}
    browser.get(served.url)
    browser.wait("return document.body.dataset.state === 'intro';", timeout=20)
    browser.screenshot(shots / "play-start.png")
    browser.type("#participant", "p01")
    browser.click("#start")
    for n in range(2):
        problem = None
        for _ in range(8):  # bounded: the page ends a problem after 12 turns anyway
            state = browser.wait("return document.body.dataset.busy === '0' && "
                                 "['turn', 'done'].includes(document.body.dataset.state) && "
                                 "document.body.dataset.state;", timeout=30)
            if state == "done":
                break
            problem = problem or by_text[browser.text("#problem")]
            browser.type("#step", person_step(problem, browser.script(
                "return document.querySelectorAll('#transcript span').length;"), mark=n == 1))
            if n == 0 and _ == 0:
                browser.screenshot(shots / "play-turn.png")
            browser.click("#send")
        browser.wait_text("#result", "Recorded", timeout=30)
        assert browser.script("return document.querySelectorAll('#transcript b').length;") == 0  # text, not markup
        if n == 0:
            browser.screenshot(shots / "play-done.png")
            browser.click("#next")
    browser.click("#next")
    browser.wait_text("#done-all", "All 2 problems done", timeout=30)

    records = read_records(served.study.out)
    assert len(records) == 2 and {r.participant for r in records} == {"p01"}
    assert {r.label for r in records} == {"first", "second"}  # balanced: one problem each
    assert all(set(r.author) == {0, 1} for r in records) and any("<b>not markup</b>" in r.text for r in records)
    assert all(t["seconds"] >= 0 for r in records for t in r.turns)

    out = tmp_path / "report.html"
    assert main(["report", str(served.study.out), "--out", str(out)]) == 0
    page = out.read_text()
    assert "Human handoff" in page and "&lt;b&gt;not markup&lt;/b&gt;" in page and "<b>not markup" not in page
    browser.get(out.as_uri())  # the report in the browser: the person's markup is text there too
    browser.wait_text("body", "Human handoff", timeout=10)
    assert browser.script("return document.querySelectorAll('pre b').length;") == 0
    browser.screenshot(shots / "play-report.png")
    target = os.environ.get("PLAY_SCREENSHOTS")
    if target:
        for f in shots.iterdir():
            shutil.copy(f, os.path.join(target, f.name))
