"""`tandem-rl play`'s server and study on the world's tiny senior: the token, limits, injection, turn limit,
blind assignment, append-only records, and the report's human handoff table."""

import json
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest

from tandem_rl.config import load_config
from tandem_rl.play.command import build_study
from tandem_rl.play.records import PLAY_FILE, read_records
from tandem_rl.play.server import MAX_BODY, make_server
from tandem_rl.play.study import PlayError, Study, assignments
from tandem_rl.report.page import build_report

INJECTIONS = ["<script>alert(1)</script>", "</pre><img src=x onerror=alert(1)>"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cfg = load_config("configs/demo.yaml")
    s = build_study(cfg, {"alpha": "world:senior", "beta": "world:senior"}, problems="world:test", limit=2,
                    protocols=("handoff_human",), out=tmp_path_factory.mktemp("play"), seed=0)
    yield s
    s.pool.close()


def twin(study, out, **kw) -> Study:
    """Another study over the same loaded models (a second server process, as far as the records go)."""
    opts = dict(benchmark=study.benchmark, protocols=study.protocols, max_turns=study.max_turns, seed=0)
    opts.update(kw)
    return Study(study.seniors, study.tokenizer, study.problems, study.prompt_ids, study.pool, out, **opts)


@pytest.fixture()
def server(study, tmp_path):
    srv = make_server(twin(study, tmp_path / "play"))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def post(srv, path, body, *, token=None, headers=None, raw=None):
    h = {"Content-Type": "application/json", "X-Play-Token": srv.token if token is None else token}
    h.update(headers or {})
    req = urllib.request.Request(srv.url.rstrip("/") + path, data=raw if raw is not None else json.dumps(body).encode(),
                                 headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_every_post_needs_the_token_and_a_local_host(server):
    assert post(server, "/api/session", {}, token="")[0] == 403
    assert post(server, "/api/session", {}, token="0" * 32)[0] == 403
    assert post(server, "/api/session", {}, headers={"Host": "evil.example:80"})[0] == 403
    assert post(server, "/api/session", {}, headers={"Content-Type": "text/plain"})[0] == 400
    assert post(server, "/api/session", None, raw=b"x" * (MAX_BODY + 1))[0] == 413
    status, body = post(server, "/api/session", {"participant": "p01"})
    assert status == 200 and len(body["session"]) == 16
    with urllib.request.urlopen(server.url, timeout=10) as r:
        page = r.read().decode()
        assert server.token in page and "script-src 'nonce-" in r.headers["Content-Security-Policy"]
    assert "innerHTML" not in page and "onclick" not in page


def test_limits_and_blind_state(server):
    sid = post(server, "/api/session", {})[1]["session"]
    assert post(server, "/api/session", {"participant": "<b>x</b>"})[0] == 400
    assert post(server, "/api/turn", {"session": sid, "text": "1"})[0] == 400  # no problem started
    status, state = post(server, "/api/next", {"session": sid})
    assert status == 200 and state["turns"][0]["author"] == "senior" and not state["done"]
    assert "alpha" not in json.dumps(state) and "beta" not in json.dumps(state)  # the page never learns the label
    status, err = post(server, "/api/turn", {"session": sid, "text": "x" * 2001})
    assert status == 400 and "2000 characters" in err["error"]
    assert post(server, "/api/turn", {"session": sid, "text": "   "})[0] == 400
    status, err = post(server, "/api/turn", {"session": sid, "text": "7 " * 900})  # 1,800 chars > 256 positions
    assert status == 400 and "too long for the model" in err["error"]
    assert post(server, "/api/turn", {"session": "nope", "text": "1"})[0] == 400
    assert not (server.study.out / PLAY_FILE).exists()  # nothing recorded before a problem ends


def test_injection_is_stored_as_text_and_escaped_in_the_report(server, tmp_path):
    study = server.study
    sid = study.new_session("p02")
    for i, bad in enumerate(INJECTIONS):
        study.next_problem(sid)
        study.person_turn(sid, f" {bad} \\boxed{{{study.problems[study.sessions[sid].order[i]].answer}}}")
    records = read_records(study.out)
    assert [r.reward for r in records] == [1.0, 1.0] and {r.answer_author for r in records} == {"person"}
    for r, bad in zip(records, INJECTIONS):
        assert bad in r.text and len(r.author) == len(r.text) and set(r.author) == {0, 1}
        assert r.to_sample_record().schedule == "handoff_human"
    page = build_report([str(study.out)], out=tmp_path / "r.html").read_text()
    for bad in INJECTIONS:
        assert bad not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;/pre&gt;&lt;img src=x" in page
    assert "1.00 [1.00, 1.00]" in page  # human handoff accuracy with its interval


def test_turn_limit_ends_a_problem(study, tmp_path):
    s = twin(study, tmp_path, max_turns=2)
    sid = s.new_session()
    s.next_problem(sid)
    state = s.person_turn(sid, " 1 plus 1 is 2 .")
    assert state["done"] and state["finish"] == "turn_limit" and len(state["turns"]) == 2
    assert read_records(tmp_path)[0].finish_reason == "turn_limit"
    with pytest.raises(PlayError):
        s.person_turn(sid, "more")


def test_finish_protocol_shows_a_prefix_without_the_answer(study, tmp_path):
    s = twin(study, tmp_path, protocols=("finish_human",))
    sid = s.new_session()
    state = s.next_problem(sid)
    assert state["protocol"] == "finish_human" and "boxed" not in state["turns"][0]["text"]
    state = s.person_turn(sid, " I give up")  # one turn: the person writes the rest
    assert state["done"] and not state["correct"] and read_records(tmp_path)[0].protocol == "finish_human"


def test_records_are_appended_across_sessions_never_overwritten(study, tmp_path):
    for run in range(2):  # two server runs writing to one folder
        s = twin(study, tmp_path, seed=run)
        sid = s.new_session(f"p{run}")
        s.next_problem(sid)
        s.person_turn(sid, " \\boxed{0}")
        if run == 0:
            first = (tmp_path / PLAY_FILE).read_bytes()
    after = (tmp_path / PLAY_FILE).read_bytes()
    assert after.startswith(first) and len(read_records(tmp_path)) == 2
    with open(tmp_path / PLAY_FILE, "ab") as fh:  # a crash mid-write leaves a partial line: it is skipped
        fh.write(b'{"label": "alp')
    assert [r.participant for r in read_records(tmp_path)] == ["p0", "p1"]
    s = twin(study, tmp_path, seed=2)  # the next session's record is not glued onto the torn line
    sid = s.new_session("p2")
    s.next_problem(sid)
    s.person_turn(sid, " \\boxed{0}")
    assert [r.participant for r in read_records(tmp_path)] == ["p0", "p1", "p2"]


def test_assignment_is_balanced_and_seeded():
    pairs = assignments(["a", "b", "c"], ["handoff_human", "finish_human"], seed=3, n=60)
    assert Counter(pairs) == {p: 10 for p in Counter(pairs)} and len(Counter(pairs)) == 6
    assert pairs == assignments(["a", "b", "c"], ["handoff_human", "finish_human"], seed=3, n=60)


def test_report_puts_the_model_junior_beside_the_person(study, tmp_path):
    s = twin(study, tmp_path / "play")
    sid = s.new_session()
    s.next_problem(sid)
    s.person_turn(sid, " \\boxed{0}")
    label = read_records(tmp_path / "play")[0].label
    est = {"value": [0.25], "low": [0.125], "high": [0.5]}
    (tmp_path / "eval" / label).mkdir(parents=True)
    (tmp_path / "eval" / label / "summary.json").write_text(json.dumps(
        {"label": label, "metrics": {"handoff_paragraph_pass@k": {"macro": est, "benchmarks": {}}}}))
    page = build_report([str(tmp_path / "play"), str(tmp_path / "eval")], out=tmp_path / "r.html").read_text()
    assert "Human handoff" in page and "0.25 [0.12, 0.50]" in page


def test_docstring_examples():
    import doctest

    import tandem_rl.play.study

    result = doctest.testmod(tandem_rl.play.study)
    assert result.attempted > 0 and result.failed == 0


def test_bad_arguments_stop_before_any_model_loads(capsys):
    from tandem_rl.cli import main

    for args, said in ((["--max-turns", "1"], "--max-turns must be >= 2"), (["--limit", "0"], "--limit must be >= 1"),
                       (["--host", "::1"], "IPv6 and wildcard"), (["--host", "0.0.0.0"], "IPv6 and wildcard")):
        assert main(["play", "--senior", "a=/nonexistent/model", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tandem-rl play: error: ") and said in err and len(err.splitlines()) == 1
