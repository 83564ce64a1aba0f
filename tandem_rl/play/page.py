"""The page a participant sees: one self-contained HTML file with its script inline (no external resources).

The per-process token and the script nonce are the only values put into the HTML, and both are hex strings made
by the server. Everything that comes from the model, the problem file or the person reaches the page through the
JSON API and is inserted with ``textContent`` (never as markup), so ``<script>`` in a step stays text::

    html = render_page(token="9f2c...", nonce="41ab...", max_chars=2000)
"""

from __future__ import annotations

import re

_HEX = re.compile(r"[0-9a-f]{16,64}")

CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 820px; color: #222; padding: 0 1em; }
h1 { font-size: 1.3em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
#problem { font-size: 1.05em; background: #f6f6f6; padding: .6em .8em; border-radius: 4px; }
#transcript { white-space: pre-wrap; word-break: break-word; font-family: monospace; font-size: 14px;
              border: 1px solid #ddd; padding: .6em .8em; min-height: 3em; }
.senior { background: #cfe3ff; }
.person { background: #ffd9b3; }
.legend span { padding: 2px 8px; margin-right: 1em; font-size: 13px; }
textarea { width: 100%; height: 6em; font-family: monospace; font-size: 14px; box-sizing: border-box; }
button { font-size: 1em; margin: .4em .4em .4em 0; padding: .3em 1em; }
#status { color: #a00; min-height: 1.2em; }
#result { font-weight: bold; min-height: 1.2em; }
.note { color: #555; font-size: 13px; }
[hidden] { display: none !important; }
"""

SCRIPT = r"""
"use strict";
const TOKEN = document.querySelector('meta[name="play-token"]').content;
let session = null;
const $ = (id) => document.getElementById(id);

async function call(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json", "X-Play-Token": TOKEN},
                               body: JSON.stringify(body || {})});
  let data = {};
  try { data = await r.json(); } catch (e) { data = {error: "the server sent no answer"}; }
  if (!r.ok || data.error) { throw new Error(data.error || ("error " + r.status)); }
  return data;
}

function busy(on) {
  for (const id of ["start", "send", "next"]) { $(id).disabled = on; }
  $("status").textContent = on ? "" : $("status").textContent;
  document.body.dataset.busy = on ? "1" : "0";
}

function show(state) {
  if (state.finished_all) {
    $("game").hidden = true; $("done-all").hidden = false;
    $("done-all").textContent = "All " + state.played + " problems done. Thank you!";
    return;
  }
  $("game").hidden = false;
  $("problem").textContent = state.problem;
  $("instructions").textContent = state.protocol === "finish_human"
    ? "Read the start of a solution below and finish it: write the remaining steps and end with the answer " +
      "in \\boxed{...}."
    : "Take turns with the model: write the next reasoning step. End with the answer in \\boxed{...} when you have it.";
  const tr = $("transcript");
  tr.replaceChildren();
  for (const t of state.turns) {
    const span = document.createElement("span");
    span.className = t.author === "senior" ? "senior" : "person";
    span.textContent = t.text;
    tr.appendChild(span);
  }
  $("progress").textContent = "Problem " + (state.played + (state.done ? 0 : 1)) + " of " + state.total +
    (state.done ? "" : " \u00b7 turns left: " + state.turns_left);
  $("step").maxLength = state.max_chars;
  $("answer-box").hidden = state.done;
  $("next").hidden = !state.done;
  $("result").textContent = state.done
    ? (state.correct ? "Correct." : "Not correct.") + " The answer is " + state.gold + ". Recorded."
    : "";
  document.body.dataset.state = state.done ? "done" : "turn";
}

async function act(fn) {
  busy(true); $("status").textContent = "";
  try { show(await fn()); } catch (e) { $("status").textContent = e.message; }
  busy(false);
}

$("start").addEventListener("click", () => act(async () => {
  const s = await call("/api/session", {participant: $("participant").value});
  session = s.session;
  $("intro").hidden = true;
  return call("/api/next", {session});
}));
$("send").addEventListener("click", () => act(async () => {
  const state = await call("/api/turn", {session, text: $("step").value});
  $("step").value = "";
  return state;
}));
$("next").addEventListener("click", () => act(() => call("/api/next", {session})));
document.body.dataset.state = "intro";
"""

BODY = """
<h1>Solve it together</h1>
<div id="intro">
  <p>You and a model take turns writing the solution to short problems, one reasoning step each.
     Leave a blank line between steps; write the final answer as <code>\\boxed{...}</code>.</p>
  <p><label>Participant id (optional): <input id="participant" maxlength="64" autocomplete="off"></label></p>
  <button id="start">Start</button>
</div>
<div id="game" hidden>
  <p id="progress" class="note"></p>
  <div id="problem"></div>
  <p id="instructions" class="note"></p>
  <p class="legend"><span class="senior">model</span><span class="person">you</span></p>
  <div id="transcript"></div>
  <div id="answer-box">
    <p><textarea id="step" placeholder="Your next step"></textarea></p>
    <button id="send">Send step</button>
  </div>
  <p id="result"></p>
  <button id="next" hidden>Next problem</button>
</div>
<p id="done-all" hidden></p>
<p id="status" role="alert"></p>
<p class="note">Everything stays on this computer. Text is limited to {max_chars} characters per step.</p>
"""


def render_page(*, token: str, nonce: str, max_chars: int) -> str:
    if not (_HEX.fullmatch(token) and _HEX.fullmatch(nonce)):
        raise ValueError("token and nonce must be lowercase hex")
    body = BODY.replace("{max_chars}", str(int(max_chars)))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"play-token\" content=\"{token}\"><title>tandem-rl play</title>"
            f"<style nonce=\"{nonce}\">{CSS}</style></head><body>{body}"
            f"<script nonce=\"{nonce}\">{SCRIPT}</script></body></html>\n")
