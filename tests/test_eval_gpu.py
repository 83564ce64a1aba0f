"""GPU checks (skipped without CUDA): teacher-forced scores on cuda match cpu; `evaluate` runs with models on cuda."""

import json

import numpy as np
import pytest
import torch

from tandem_rl.eval.teacher_forcing import score_texts
from tests.tiny import tiny_model, tiny_tokenizer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_scores_on_cuda_match_cpu():
    tok = tiny_tokenizer()
    a, b = tiny_model(tok, seed=0), tiny_model(tok, seed=1, arch="qwen3", hidden=32)
    prompts = [tok("Tom has 12 apples")["input_ids"], tok("Let x")["input_ids"]]
    responses = [tok(" and buys 7 more.")["input_ids"], tok(" be 4.")["input_ids"]]
    kw = dict(ce=["b"], kl=[("a", "b")], top=["a"], token_budget=16)
    cpu = score_texts({"a": a, "b": b}, prompts, responses, **kw)
    gpu = score_texts({"a": a.cuda(), "b": b.cuda()}, prompts, responses, **kw)
    for i in range(2):
        np.testing.assert_allclose(cpu.ce["b"][i], gpu.ce["b"][i], atol=1e-3)
        np.testing.assert_allclose(cpu.kl[("a", "b")][i], gpu.kl[("a", "b")][i], atol=1e-3)


def test_evaluate_on_cuda(tmp_path):
    from tandem_rl.config import load_config
    from tandem_rl.eval.runner import evaluate

    tok = tiny_tokenizer()
    paths = {}
    for name, seed in (("base", 0), ("grpo", 1), ("tandem", 2)):
        tiny_model(tok, seed=seed).save_pretrained(tmp_path / name)
        tok.save_pretrained(tmp_path / name)
        paths[name] = str(tmp_path / name)
    with open(tmp_path / "toy.jsonl", "w") as fh:
        for i in range(6):
            fh.write(json.dumps({"id": f"t{i}", "problem": f"What is {i} plus 7?", "answer": str(i + 7)}) + "\n")
    cfg = load_config(None, [f"eval.benchmarks=[{tmp_path / 'toy.jsonl'}]", "eval.n_samples=4",
                             "eval.max_new_tokens=32", "eval.batch_size=8", "eval.bootstrap=100",
                             "eval.handoff_schedules=[paragraph,word]", "reward.workers=1", "model.device=cuda",
                             "eval.displacement=grpo,tandem"])
    out = evaluate(cfg, {"grpo": paths["grpo"], "tandem": paths["tandem"]}, junior=paths["base"],
                   base=paths["base"], output_dir=tmp_path / "ev", progress=False)
    s = out["labels"]["tandem"]["metrics"]
    assert len(s["solo_pass@k"]["macro"]["value"]) == 4
    assert s["drift_kl_base"]["macro"]["value"] >= 0
    assert out["comparison"]["displacement"]["positions"] > 0
