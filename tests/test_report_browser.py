"""The demo's report in a real headless Chromium (Debian's chromium + chromium-driver; the test skips, saying what
to install, where they are absent): the verdict is the page's first section, lists both settings, and its top is on
the first screen. Built from a tiny fake evaluation folder (no training, no model)."""

from browser import browser  # noqa: F401  (the shared fixture, tests/browser.py)
from test_report_verdict import fake_demo_eval

from tandem_rl.report.page import build_report
from tandem_rl.report.verdict import SETTINGS


def test_verdict_comes_first_in_a_browser(browser, tmp_path):  # noqa: F811
    root = fake_demo_eval(tmp_path)
    page = build_report([str(root / s.name) for s in SETTINGS], out=tmp_path / "report.html")
    browser.get(page.resolve().as_uri())
    browser.wait("return document.readyState === 'complete';", timeout=20)
    first = browser.script(
        "const s = document.querySelector('body > section, body > h2');"
        "return s ? [s.tagName, s.id, s.querySelector('h2').textContent] : null;")
    assert first is not None and first[0] == "SECTION" and first[1] == "verdict" and "Verdict" in first[2]
    settings = browser.script(
        "return Array.from(document.querySelectorAll('#verdict h3.setting')).map(h => h.dataset.setting);")
    assert settings == ["paper", "west"]
    claims = browser.script("return document.querySelectorAll('#verdict tr.claim').length;")
    assert claims == 7
    top = browser.script("return [document.getElementById('verdict').getBoundingClientRect().top, "
                         "window.innerHeight];")
    assert 0 <= top[0] < top[1]  # the verdict starts on the first screen
    browser.screenshot(tmp_path / "report-first-screen.png")
    assert (tmp_path / "report-first-screen.png").stat().st_size > 1000
