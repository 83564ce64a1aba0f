"""The local HTTP server of ``tandem-rl play``: the page at ``/`` and a small JSON API, standard library only.

    server = make_server(study, host="127.0.0.1", port=0)     # port 0: a free port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url     # 'http://127.0.0.1:8765/'

API (POST, JSON in and out; every POST needs the header ``X-Play-Token: <server.token>`` and
``Content-Type: application/json``):

| path | body | answer |
|---|---|---|
| ``/api/session`` | ``{"participant": "p07"}`` (optional) | ``{"session": "3f9a..."}`` |
| ``/api/next`` | ``{"session": ...}`` | the problem and its turns (``Study.state``), the senior's first step written |
| ``/api/turn`` | ``{"session": ..., "text": "..."}`` | the state after the person's step and the senior's reply |

Refusals are ``{"error": "..."}`` with status 400 (bad input: also a ``Content-Length`` that is not a number, a
body nested too deeply to parse), 403 (no or wrong token, a foreign Host header), 404, 408 (a body announced but
not sent within ``REQUEST_TIMEOUT`` seconds: the connection is closed, no thread waits forever) or 413 (body over
``MAX_BODY`` bytes). Why the token: any web page the participant opens could send requests
to a port on localhost; without the token (which only the served page holds) it cannot drive the study. The Host
check stops a rebound DNS name from reading the page. The page's script and style carry a per-process nonce and a
Content-Security-Policy forbids everything else, so injected markup could not run even if it reached the page.
"""

from __future__ import annotations

import json
import secrets
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tandem_rl.play.page import render_page
from tandem_rl.play.study import PlayError

MAX_BODY = 16_384
REQUEST_TIMEOUT = 20.0  # seconds a connection may stay silent (a body that never comes, an idle keep-alive)


class PlayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, study, host: str, port: int):
        super().__init__((host, port), Handler)
        self.study = study  # None until the models are loaded (``tandem-rl play`` binds the port first)
        self.request_timeout = REQUEST_TIMEOUT
        self.token, self.nonce = secrets.token_hex(16), secrets.token_hex(16)
        self.hosts = {f"{h}:{self.server_address[1]}" for h in ("127.0.0.1", "localhost", host)}

    def handle_error(self, request, client_address) -> None:
        """A client that went away mid-answer is not news; anything else keeps its traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host = self.server_address[0]
        return f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{self.server_address[1]}/"


def make_server(study, *, host: str = "127.0.0.1", port: int = 0) -> PlayServer:
    return PlayServer(study, host, port)


class Handler(BaseHTTPRequestHandler):
    server: PlayServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args) -> None:  # no request log on the console (participants' text stays out)
        pass

    def setup(self) -> None:
        self.timeout = self.server.request_timeout  # socket timeout of this connection's reads
        super().setup()

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy",
                         f"default-src 'none'; script-src 'nonce-{self.server.nonce}'; "
                         f"style-src 'nonce-{self.server.nonce}'; connect-src 'self'; base-uri 'none'; "
                         "form-action 'none'; frame-ancestors 'none'")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

    def _host_ok(self) -> bool:
        return self.headers.get("Host", "") in self.server.hosts

    def do_GET(self) -> None:
        if not self._host_ok():
            return self._json(403, {"error": "unexpected Host header"})
        if self.path.split("?")[0] != "/":
            return self._json(404, {"error": "not found"})
        page = render_page(token=self.server.token, nonce=self.server.nonce, max_chars=self.server.study.max_chars)
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def do_POST(self) -> None:
        raw = self._body()
        if raw is None:
            return None  # refused and answered
        if not self._host_ok():
            return self._json(403, {"error": "unexpected Host header"})
        token = self.headers.get("X-Play-Token", "")
        if not token.isascii() or not secrets.compare_digest(token, self.server.token):  # non-ASCII: no match
            return self._json(403, {"error": "missing or wrong token; reload the page"})
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self._json(400, {"error": "expected application/json"})
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except (ValueError, RecursionError):  # RecursionError: [[[[...]]]] nested past the parser's depth
            return self._json(400, {"error": "the body is not a JSON object"})
        study = self.server.study
        try:
            if self.path == "/api/session":
                return self._json(200, {"session": study.new_session(body.get("participant"))})
            if self.path == "/api/next":
                return self._json(200, study.next_problem(body.get("session")))
            if self.path == "/api/turn":
                return self._json(200, study.person_turn(body.get("session"), body.get("text")))
        except PlayError as err:
            return self._json(400, {"error": str(err)})
        except Exception:  # a bug must not leave the page waiting: say so, log it on the console
            traceback.print_exc()
            return self._json(500, {"error": "internal error (see the server's console)"})
        self._json(404, {"error": "not found"})

    def _body(self):
        """The request body, or None after answering 400 / 408 / 413 (and closing: the stream is out of step)."""
        declared = self.headers.get("Content-Length") or "0"
        digits = declared.strip()
        length = int(digits) if digits.isascii() and digits.isdigit() else -1  # no sign, "1e3", "abc" or "１２"
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            if length < 0:
                return self._json(400, {"error": "Content-Length is not a number of bytes"})
            return self._json(413, {"error": f"request over {MAX_BODY} bytes"})
        try:
            return self.rfile.read(length) if length else b""
        except TimeoutError:  # announced a body and never sent it
            self.close_connection = True
            return self._json(408, {"error": f"the body did not arrive within {self.server.request_timeout:g} s"})
