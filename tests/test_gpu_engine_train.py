"""GPU checks of the engine and the trainer (skipped without CUDA): run them where a GPU is lent,
e.g. ``bash benchmarks/gpu_check.sh``.

``TANDEM_RL_TEST_DEVICE=cpu python -m pytest tests/test_gpu_engine_train.py`` runs the same checks on the CPU, which
only validates the tests themselves (the comparisons are then CPU against CPU).

- the engine on the device: solo greedy == HF ``generate`` on the same device; cached tandem log-probs == a full
  recompute; greedy tandem tokens equal the CPU's (fp32);
- ``decode="compiled"`` (StaticCache + torch.compile; CUDA graphs on CUDA) gives the dynamic path's rollouts;
- senior on the device and junior on the CPU (``model.junior_device=cpu``): the same greedy tandem as all-CPU;
- training on the device with bf16 autocast, gradient checkpointing, the reference KL, the junior KL and a bf16
  junior: finite losses, real updates, and a resume that continues the run.
"""

import json
import os

import numpy as np
import pytest
import torch

from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.engine import CoGenerator
from test_cogen_engine import full_logprobs, hf_greedy
from tiny import tiny_model, tiny_pair

DEVICE = os.environ.get("TANDEM_RL_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def cpu_pair(tok):
    return tiny_pair(tok)


@pytest.fixture(scope="module")
def dev_pair(cpu_pair):
    import copy

    return tuple(copy.deepcopy(m).to(DEVICE) for m in cpu_pair)


def test_solo_greedy_equals_hf_generate_on_device(tok, dev_pair, prompts):
    eos = 7
    out = CoGenerator(dev_pair[0], None, tok, eos_token_ids=[eos]).generate(
        prompts, RolloutConfig(schedule="solo", max_new_tokens=24, temperature=0.0), seed=0)
    assert out.response_ids == hf_greedy(dev_pair[0], prompts, 24, tok.pad_token_id, eos)


def test_cached_logprobs_equal_recompute_on_device(tok, dev_pair, cpu_pair, prompts):
    gen = CoGenerator(*dev_pair, tok, check_every=1)
    rc = RolloutConfig(schedule="word", max_new_tokens=30, temperature=1.0, redraw_cap=4,
                       stop_token_ids=list(range(40, 60)))
    out = gen.generate(prompts * 2, rc, seed=3)
    assert out.stats["author_changes"] > 5
    for i, (p, r) in enumerate(zip(out.prompt_ids, out.response_ids)):
        s_lp, j_lp = (full_logprobs(m, p, r, len(tok)) for m in cpu_pair)
        a = out.author[i].astype(bool)
        np.testing.assert_allclose(out.logprob[i], np.where(a, s_lp, j_lp), atol=5e-4, rtol=0)
        np.testing.assert_allclose(out.partner_logprob[i], np.where(a, j_lp, s_lp), atol=5e-4, rtol=0)


@pytest.mark.parametrize("junior_on_cpu", [False, True])
def test_greedy_tandem_on_device_equals_cpu(tok, dev_pair, cpu_pair, prompts, junior_on_cpu):
    rc = RolloutConfig(schedule="chunk", chunk_size=3, max_new_tokens=16, temperature=0.0)
    ref = CoGenerator(*cpu_pair, tok).generate(prompts, rc, seed=0)
    junior = cpu_pair[1] if junior_on_cpu else dev_pair[1]
    out = CoGenerator(dev_pair[0], junior, tok).generate(prompts, rc, seed=0)
    assert out.response_ids == ref.response_ids
    assert all(np.array_equal(a, b) for a, b in zip(out.author, ref.author))


@pytest.mark.parametrize("decode", ["static", "compiled"])
def test_static_and_compiled_decode_equal_dynamic_on_device(tok, dev_pair, prompts, decode):
    rc = RolloutConfig(schedule="word", max_new_tokens=20, temperature=1.0, stop_token_ids=list(range(40, 50)))
    ref = CoGenerator(*dev_pair, tok, check_every=1).generate(prompts * 2, rc, seed=7)
    gen = CoGenerator(*dev_pair, tok, decode=decode)
    for _ in range(2):  # the second call replays the held cache and (compiled) the captured graphs
        out = gen.generate(prompts * 2, rc, seed=7)
        assert out.response_ids == ref.response_ids and out.finish_reason == ref.finish_reason
        assert all(np.array_equal(a, b) for a, b in zip(out.author, ref.author))
        for a, b in zip(out.logprob, ref.logprob):
            np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)


def test_training_on_device_bf16_checkpointing_kl_and_resume(tmp_path, tok):
    from tandem_rl.config import load_config
    from tandem_rl.train import loop

    tiny_model(tok, seed=0).save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} + 1?",
                                                          "answer": str(i + 1)}) + "\n" for i in range(12)))
    over = [f"model.senior={tmp_path / 'm'}", f"data.source={tmp_path / 'p.jsonl'}", f"model.device={DEVICE}",
            "model.junior_dtype=bfloat16", "model.gradient_checkpointing=true", "train.mixed_precision=bf16",
            "grpo.beta=0.01", "grpo.lambda_jun=0.05", "rollout.schedule=word", "rollout.temperature=1.0",
            "rollout.max_new_tokens=16", "train.prompts_per_step=2", "grpo.group_size=4", "train.steps=3",
            "train.save_every=2", "reward.workers=0", "train.loggers=[jsonl]", f"train.output_dir={tmp_path / 'run'}",
            "train.dump_rollouts_every=0"]
    run = loop.train(load_config(None, over), progress=False)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert sum(r["updates"] for r in rows) > 0
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["kl_ref"]) and np.isfinite(r["kl_junior"]) for r in rows)
    # resume from step 2 continues to step 3 (bitwise equality is not asserted: GPU kernels may be nondeterministic)
    ckpts = run / "checkpoints"
    import shutil

    shutil.rmtree(ckpts / "step_000003")
    (ckpts / "latest.txt").write_text("step_000002\n")
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    loop.train(load_config(None, over), resume=True, progress=False)
    again = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in again] == [1, 2, 3]
