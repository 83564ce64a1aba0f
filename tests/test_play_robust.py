"""`tandem-rl play` against odd input (issue #34, item 4): invisible-only steps, non-ASCII spaces, malformed
requests answered 400 / 403 / 408 instead of a dropped connection and a traceback, and a report that skips and
counts `null` / `[]` lines of human.jsonl."""

import json
import socket
import threading
import time

import pytest

from tandem_rl.config import load_config
from tandem_rl.play.command import build_study
from tandem_rl.play.records import PLAY_FILE, load_records, read_records
from tandem_rl.play.server import make_server
from tandem_rl.play.study import PlayError, Study
from tandem_rl.report.page import build_report


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cfg = load_config("configs/demo.yaml")
    s = build_study(cfg, {"alpha": "world:senior"}, problems="world:test", limit=2, protocols=("handoff_human",),
                    out=tmp_path_factory.mktemp("play"), seed=0)
    yield s
    s.pool.close()


def _fresh(study, out) -> Study:
    return Study(study.seniors, study.tokenizer, study.problems, study.prompt_ids, study.pool, out,
                 benchmark=study.benchmark, protocols=study.protocols, max_turns=study.max_turns, seed=0)


@pytest.fixture()
def server(study, tmp_path):
    srv = make_server(_fresh(study, tmp_path / "play"))
    srv.request_timeout = 1.0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_a_step_of_only_invisible_characters_is_refused(study, tmp_path):
    s = _fresh(study, tmp_path)
    sid = s.new_session()
    turns = len(s.next_problem(sid)["turns"])
    for text in ("\u200b\u200b", "\x00\x01\r", "\u200b \u2060\ufeff", "\x7f\t"):
        with pytest.raises(PlayError, match="write a step first"):
            s.person_turn(sid, text)
    assert len(s.state(s.sessions[sid])["turns"]) == turns  # nothing recorded as a person turn


def test_non_ascii_spaces_become_spaces(study, tmp_path):
    s = _fresh(study, tmp_path)
    sid = s.new_session()
    s.next_problem(sid)
    s.person_turn(sid, "5\u00a0000\u00a0+\u00a03\u3000is \\boxed{5003}")
    record = read_records(tmp_path)[0]
    assert "5 000 + 3 is \\boxed{5003}" in record.text and "5000+3" not in record.text


def _raw(srv, request: bytes, *, wait: float = 5.0) -> tuple[int, dict]:
    """Send bytes as they are (headers no HTTP client would send) and read the status and JSON answer."""
    host, port = srv.server_address[:2]
    with socket.create_connection((host, port), timeout=wait) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def _post(srv, body: bytes, *, length=None, token=None, content_type=b"application/json") -> bytes:
    host = f"127.0.0.1:{srv.server_address[1]}".encode()
    token = srv.token.encode() if token is None else token
    length = str(len(body)).encode() if length is None else length
    return (b"POST /api/session HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: " + content_type
            + b"\r\nX-Play-Token: " + token + b"\r\nContent-Length: " + length + b"\r\n\r\n" + body)


def test_malformed_requests_get_an_answer_not_a_traceback(server, capfd):
    deep = b"[" * 100_000 + b"]" * 100_000
    assert _raw(server, _post(server, deep[:16_000]))[0] == 400  # under MAX_BODY, too deep for the parser
    nested = b'{"a":' * 2500 + b"1" + b"}" * 2500
    assert _raw(server, _post(server, nested))[0] == 400
    for bad in (b"abc", b"-5", b"1e3", b"\xef\xbc\x91"):
        assert _raw(server, _post(server, b"{}", length=bad))[0] == 400
    for token in ("\u00e9".encode("latin-1"), "\u00e9\u00e9".encode("utf-8"), b"\xff" * 32):
        assert _raw(server, _post(server, b"{}", token=token))[0] == 403
    status, answer = _raw(server, _post(server, b"{}"))  # the server still serves
    assert status == 200 and "session" in answer
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_that_never_comes_times_out(server):
    started = time.monotonic()
    status, answer = _raw(server, _post(server, b"", length=b"100"), wait=10)
    assert status == 408 and "did not arrive" in answer["error"]
    assert time.monotonic() - started < 5  # request_timeout is 1 s here


def test_report_skips_and_counts_lines_that_are_not_records(study, tmp_path, capsys):
    s = _fresh(study, tmp_path / "play")
    sid = s.new_session()
    s.next_problem(sid)
    s.person_turn(sid, " \\boxed{0}")
    path = tmp_path / "play" / PLAY_FILE
    good = path.read_text()
    path.write_text("null\n[]\n" + good + '{"label": 3}\n"text"\n')
    records, skipped = load_records(tmp_path / "play")
    assert len(records) == 1 and skipped == 4
    page = build_report([str(tmp_path / "play")], out=tmp_path / "r.html").read_text()
    assert "Human handoff" in page and "4 line(s) of human.jsonl were not play records" in page
    assert "4 line(s) skipped" in capsys.readouterr().err
