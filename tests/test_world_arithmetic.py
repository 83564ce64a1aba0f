"""world/arithmetic.py: the chance of a wrong step result per notation, by teacher forcing and on own samples."""

import dataclasses
import json

import torch

from tandem_rl.cli import main
from tandem_rl.data import encode_problems, load_problems
from tandem_rl.models import load_model, load_tokenizer
from tandem_rl.world.arithmetic import SAMPLES_PART, problem_of, right_probs, step_arithmetic
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
    assert "TF err eval" in out and "own err" in out and "own solo samples" in out
    assert main(["world", "arithmetic", "x=/no/such/model", "--limit", "2"]) == 2


def _forced(decoding, limit=3):
    tok, model = load_tokenizer("world:senior"), load_model("world:senior", device="cpu")
    cfg = demo_config([])
    rows = [json.loads(x) for x in problems_file("test").read_text().splitlines()[:limit]]
    problems = load_problems(dataclasses.replace(cfg.data, source=str(problems_file("test")))).problems
    by_id = {p.id.split(":", 1)[-1]: p for p in problems}
    enc = encode_problems(tok, [by_id[r["id"]] for r in rows], cfg.data)
    return step_arithmetic({"m": model}, tok, [problem_of(r) for r in rows], enc.prompt_ids, batch_size=5,
                           decoding=decoding)


def test_the_evaluation_decoding_reduces_to_its_limits():
    """No truncation at T 0.7 is the old T 0.7 figure; top_k 1 is greedy, so its error is the argmax error."""
    loose = _forced({"temperature": 0.7, "top_k": 0, "top_p": 1.0})
    greedy = _forced({"temperature": 0.7, "top_k": 1, "top_p": 1.0})
    for notation in ("plain", "jargon"):
        assert abs(loose[("m", notation)]["error_eval"] - loose[("m", notation)]["error_t07"]) < 1e-6
        assert abs(greedy[("m", notation)]["error_eval"] - greedy[("m", notation)]["argmax_error"]) < 1e-6


def test_right_probs_renormalises_over_the_kept_tokens():
    # T 1, top_k 2 keeps tokens 0 and 1 of softmax [0.665, 0.245, 0.090]: 0.245 / 0.910; token 2 is dropped
    z = torch.tensor([2.0, 1.0, 0.0])
    assert abs(right_probs(z, 1, {"temperature": 1.0, "top_k": 2, "top_p": 1.0})[2] - 0.245 / 0.910) < 1e-3
    assert right_probs(z, 2, {"temperature": 1.0, "top_k": 2, "top_p": 1.0})[2] == 0.0


# the calibration reads the model's own texts: hand-made ones through a canned engine (problem 20 - 2 - 1 = 17)
OWN = [
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 17 .\n\n \\boxed{17}")],  # plain, 2 true steps, correct
    [(1, " 20 minus 2 is 18 .\n\n 18 minus 1 is 16 .\n\n \\boxed{16}")],  # plain, 1 false of 2, wrong
    [(1, " <<20-2=18>>\n\n <<18-1=17>>\n\n \\boxed{17}")],                # jargon, 2 true, correct
    [(1, " <<20-2=17>>\n\n 17 minus 1 is 16 .\n\n \\boxed{16}")],         # mixed: 1 false jargon, 1 true plain
]


def test_own_samples_count_false_results_per_written_step(monkeypatch):
    from tandem_rl.world import arithmetic
    from tandem_rl.world.problems import make_problem
    from tiny import CannedEngine

    tok = load_tokenizer("world:senior")
    monkeypatch.setattr(arithmetic, "co_generator", lambda *a, **k: CannedEngine(tok, OWN))
    problem = make_problem(20, (("-", 2), ("-", 1)))
    out = arithmetic.own_samples(None, tok, [problem], [tok.encode("Q")], demo_config([]).rollout, samples=4)
    assert out["plain"]["own_steps"] == 5 and abs(out["plain"]["own_error"] - 1 / 5) < 1e-12
    assert out["jargon"]["own_steps"] == 3 and abs(out["jargon"]["own_error"] - 1 / 3) < 1e-12
    assert out[SAMPLES_PART] == {"n": 4, "acc": 0.5, "acc_by_ops": {2: 0.5}}
