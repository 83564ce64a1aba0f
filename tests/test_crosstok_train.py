"""Train, evaluate and report with a junior that has its own tokenizer (``model.junior`` names it), on the CPU.

The senior is the digit-task model (tests/tiny.py's tokenizer); the junior a tiny Qwen3 saved with a second
byte-level BPE (tests/test_cogen_crosstok.py's ``other_tokenizer``). Nothing in the config says "cross-tokenizer":
the junior's folder holds its tokenizer and the engine is chosen from that.
"""

import json

import numpy as np
import pytest
import torch

from tandem_rl.config import load_config
from tandem_rl.eval.records import SampleRecord, read_jsonl
from tandem_rl.eval.runner import evaluate
from tandem_rl.report.page import build_report
from tandem_rl.train import loop
from tandem_rl.train.build import build
from test_cogen_crosstok import other_tokenizer
from tiny import digit_sft, tiny_model


@pytest.fixture(scope="module")
def junior_folder(tmp_path_factory):
    """A tiny Qwen3 with the second tokenizer, fine-tuned like the digit-task senior (``\\boxed{d}``, d random)."""
    root = tmp_path_factory.mktemp("cross_junior")
    tok = other_tokenizer()
    model = digit_sft(tiny_model(tok, seed=3, arch="qwen3", hidden=32), tok, steps=40, seed=1)
    model.save_pretrained(root)
    tok.save_pretrained(root)
    return root


def _cfg(digit_task, junior, out, *extra):
    model, problems = digit_task
    return load_config(None, [
        f"model.senior={model}", f"model.junior={junior}", f"data.source={problems}", "data.instruction=",
        f"train.output_dir={out}", "train.prompts_per_step=2", "grpo.group_size=4", "rollout.max_new_tokens=8",
        "rollout.temperature=1.0", "rollout.schedule=word", "rollout.redraw_cap=2", "reward.workers=0",
        "train.loggers=[jsonl]",
        "train.lr=1e-3", "train.save_every=0", "train.dump_rollouts_every=2", "train.steps=3", *extra])


def test_train_eval_report_with_a_junior_of_another_tokenizer(digit_task, junior_folder, tmp_path):
    run = loop.train(_cfg(digit_task, junior_folder, tmp_path / "run", "data.holdout=4", "train.eval_every=3"),
                     progress=False)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all("mixed_tokens" in r and "healed" in r for r in rows)
    assert sum(r["updates"] for r in rows) >= 1 and all(np.isfinite(r["loss"]) for r in rows if r["updates"])
    assert sum(r["healed"] for r in rows) > 0
    assert 0.0 < np.mean([r["senior_fraction"] for r in rows]) < 1.0
    dump = [json.loads(x) for x in (run / "rollouts" / "step_000003.jsonl").read_text().splitlines()]
    assert len(dump) == 8 and all(len(d["author"]) == len(d["response_ids"]) <= 8 for d in dump)

    problems = digit_task[1]
    cfg = load_config(None, [
        f"eval.benchmarks=[{problems}]", "data.instruction=", "eval.limit=3", "eval.n_samples=2", "eval.max_new_tokens=8",
        "eval.batch_size=6", "eval.bootstrap=20", "eval.handoff_schedules=[word,paragraph]", "reward.workers=0",
        "eval.score_token_budget=256", "model.device=cpu", "eval.metrics=[solo,handoff,legibility,drift]"])
    out = evaluate(cfg, {"tandem": str(run)}, junior=str(junior_folder), base=str(digit_task[0]),
                   output_dir=tmp_path / "ev", progress=False)
    recs = read_jsonl(tmp_path / "ev" / "tandem" / "samples.jsonl", SampleRecord)
    assert {r.schedule for r in recs} == {"solo", "word", "paragraph"}
    for r in recs:
        assert "".join(s for _, s in r.segments) == r.text and len(r.author) == len(r.response_ids)
    solo = [r for r in recs if r.schedule == "solo"]
    assert all(r.ce_junior is not None and r.ce_junior_per_byte is not None for r in solo)
    assert all(r.kl_junior is None and r.kl_base is not None for r in solo)  # no shared vocabulary to compare
    # per byte, recomputed by hand: the junior reads prompt and response in its own tokens, one plain forward
    from tandem_rl.models import load_model, load_tokenizer

    st_, jt = load_tokenizer(str(digit_task[0])), load_tokenizer(str(junior_folder))
    junior = load_model(str(junior_folder), device="cpu")
    prompt = st_.apply_chat_template([{"role": "user", "content": "Pick a digit."}], tokenize=False,
                                     add_generation_prompt=True)
    for r in solo[:3]:
        ids = jt.encode(prompt, add_special_tokens=False)
        resp = jt.encode(r.text, add_special_tokens=False) + ([jt.eos_token_id] if r.finish_reason == "eos" else [])
        with torch.no_grad():
            logp = torch.log_softmax(junior(input_ids=torch.tensor([ids + resp])).logits[0].float(), -1)
        ce = -logp[len(ids) - 1:-1].gather(-1, torch.tensor(resp)[:, None]).sum()
        assert r.ce_junior_per_byte == pytest.approx(float(ce) / len(r.text.encode()), rel=1e-4)
        assert r.ce_junior == pytest.approx(float(ce) / len(resp), rel=1e-4)
    metrics = out["labels"]["tandem"]["metrics"]
    assert {"legibility_ce", "legibility_ce_per_byte", "handoff_word_pass@k"} <= set(metrics)
    assert "drift_kl_junior" not in metrics

    page = build_report([str(tmp_path / "ev")], out=tmp_path / "report.html")
    html = open(page).read()
    assert "junior CE per byte" in html


def test_settings_a_cross_tokenizer_junior_cannot_serve_are_refused(digit_task, junior_folder, tmp_path):
    with pytest.raises(ValueError, match="lambda_jun"):
        build(_cfg(digit_task, junior_folder, tmp_path / "a", "grpo.lambda_jun=0.1"))
    with pytest.raises(ValueError, match="decode=dynamic"):
        build(_cfg(digit_task, junior_folder, tmp_path / "b", "rollout.decode=static"))


def test_a_same_tokenizer_junior_folder_keeps_the_lockstep_engine(digit_task, tmp_path):
    from tandem_rl.cogen.engine import CoGenerator
    from tandem_rl.cogen.pairing import co_generator

    objs = build(_cfg(digit_task, digit_task[0], tmp_path / "c"))
    assert objs.junior_tokenizer is None
    assert type(co_generator(objs.senior, objs.junior, objs.tokenizer, objs.junior_tokenizer)) is CoGenerator
