"""world/arithmetic.py: the chance of a wrong step result per notation, by teacher forcing."""

import dataclasses
import json

import torch

from tandem_rl.cli import main
from tandem_rl.data import encode_problems, load_problems
from tandem_rl.models import load_model, load_tokenizer
from tandem_rl.world.arithmetic import problem_of, step_arithmetic
from tandem_rl.world.assets import problems_file
from tandem_rl.world.demo import demo_config
from tandem_rl.world.problems import plain_solution


def test_batched_probabilities_match_one_unpadded_forward_per_step():
    tok, model = load_tokenizer("world:senior"), load_model("world:senior", device="cpu")
    cfg = demo_config([])
    rows = [json.loads(x) for x in problems_file("test").read_text().splitlines()[:3]]
    problems = load_problems(dataclasses.replace(cfg.data, source=str(problems_file("test")))).problems
    by_id = {p.id.split(":", 1)[-1]: p for p in problems}
    enc = encode_problems(tok, [by_id[r["id"]] for r in rows], cfg.data)
    world = [problem_of(r) for r in rows]
    assert [w.answer for w in world] == [int(r["answer"]) for r in rows]
    out = step_arithmetic({"m": model}, tok, world, enc.prompt_ids, notations=("plain",), batch_size=4)
    # reference: each step alone, no padding, the result token found by re-encoding the text up to it
    ref = []
    with torch.no_grad():
        for w, prompt in zip(world, enc.prompt_ids):
            text, pos = plain_solution(w), 0
            for v in w.values[1:]:
                pos = text.index(f" is {v} .", pos) + len(" is")
                head = text[:pos]
                ids = list(prompt) + tok.encode(head, add_special_tokens=False)
                right = tok.encode(f" {v}", add_special_tokens=False)
                assert len(right) == 1
                logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
                ref.append(torch.softmax(logits.float(), -1)[right[0]].item())
    r = out[("m", "plain")]
    assert r["n"] == len(ref) == sum(len(w.ops) for w in world)
    assert abs(r["p_correct"] - sum(ref) / len(ref)) < 1e-5
    assert 0 <= r["error_t07"] <= 1 and abs(r["error_t1"] - (1 - r["p_correct"])) < 1e-9


def test_command_prints_a_table(capsys):
    assert main(["world", "arithmetic", "initial=world:senior", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "initial" in out and "plain" in out and "jargon" in out
    assert main(["world", "arithmetic", "x=/no/such/model", "--limit", "2"]) == 2
