"""End to end on a tiny model: the reward rises; resume is bit-identical; the run folder follows the contract.

The task: a tiny Llama is first fine-tuned to answer ``\\boxed{d}`` with a random digit d; RL then rewards only
``\\boxed{3}``. The SFT model starts near reward 0.1 and learns to prefer 3 within a few steps.
"""

import json

import pytest
import torch

from tandem_rl.config import load_config
from tandem_rl.train import loop
from tandem_rl.train.checkpoint import latest_checkpoint
from tiny import train_until_killed

TIMING = ("seconds", "tokens_per_s")


def _cfg(digit_task, out, *extra):
    model, problems = digit_task
    return load_config(None, [
        f"model.senior={model}", f"data.source={problems}", "data.instruction=", f"train.output_dir={out}",
        "train.prompts_per_step=4", "grpo.group_size=8", "rollout.max_new_tokens=8", "rollout.temperature=1.0",
        "reward.workers=0", "train.loggers=[jsonl]", "train.lr=1e-3", "train.save_every=0",
        "train.dump_rollouts_every=0", *extra])


def _metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _strip_timing(rows):
    return [{k: v for k, v in r.items() if not any(t in k for t in TIMING)} for r in rows]


def test_tandem_reward_rises_on_the_digit_task(digit_task, tmp_path):
    run = loop.train(_cfg(digit_task, tmp_path / "run", "train.steps=12", "rollout.schedule=word",
                          "train.dump_rollouts_every=12", "data.holdout=4", "train.eval_every=12"), progress=False)
    rows = _metrics(run)
    rewards = [r["reward_mean"] for r in rows]
    first, last = sum(rewards[:2]) / 2, sum(rewards[-4:]) / 4
    assert first < 0.25, rewards
    assert last > first + 0.2, rewards  # the junior writes ~half the answers, so the ceiling is ~0.55
    assert all(0.2 < r["senior_fraction"] < 0.8 for r in rows)
    assert rows[-1]["updates"] >= 1 and rows[-1]["grad_norm"] is not None
    assert "eval_solo_acc" in rows[-1] and 0.0 <= rows[-1]["eval_solo_acc"] <= 1.0
    # run folder contract
    assert (run / "config.yaml").exists()
    ck = latest_checkpoint(run)
    assert ck.name == "step_000012" and (ck / "model.safetensors").exists() and (ck / "tokenizer.json").exists()
    dump = [json.loads(x) for x in (run / "rollouts" / "step_000012.jsonl").read_text().splitlines()]
    assert len(dump) == 32
    keys = {"step", "prompt_index", "prompt", "tokens", "response_ids", "author", "reward", "gold", "extracted",
            "finish_reason"}
    assert keys <= set(dump[0])
    assert all(len(d["tokens"]) == len(d["response_ids"]) == len(d["author"]) for d in dump)
    assert {d["prompt_index"] for d in dump} == {0, 1, 2, 3}



def test_resume_is_bit_identical_on_cpu(digit_task, tmp_path, monkeypatch):
    """4 steps straight == 2 steps, a kill, --resume, 2 more: same weights (torch.equal) and same metrics."""
    from transformers import AutoModelForCausalLM

    extra = ("train.steps=4", "train.save_every=2", "rollout.schedule=word", "train.dump_rollouts_every=1",
             "train.lr=3e-3")
    straight = loop.train(_cfg(digit_task, tmp_path / "a", *extra), progress=False)

    train_until_killed(loop, _cfg(digit_task, tmp_path / "b", *extra), monkeypatch, step=2)
    with pytest.raises(FileExistsError, match="--resume"):
        loop.train(_cfg(digit_task, tmp_path / "b", *extra), progress=False)
    resumed = loop.train(_cfg(digit_task, tmp_path / "b", *extra), resume=True, progress=False)

    a = AutoModelForCausalLM.from_pretrained(latest_checkpoint(straight))
    b = AutoModelForCausalLM.from_pretrained(latest_checkpoint(resumed))
    init = AutoModelForCausalLM.from_pretrained(digit_task[0])
    sa, sb, s0 = a.state_dict(), b.state_dict(), init.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], s0[k]) for k in sa), "training changed nothing: the test would be vacuous"
    ma, mb = _metrics(straight), _metrics(resumed)
    assert [r["step"] for r in mb] == [1, 2, 3, 4]
    assert _strip_timing(ma) == _strip_timing(mb)
    assert sum(r["updates"] for r in ma) >= 2
    for s in (3, 4):
        name = f"rollouts/step_{s:06d}.jsonl"
        assert (straight / name).read_text() == (resumed / name).read_text()


def test_bf16_junior_beside_an_fp32_senior(digit_task, tmp_path):
    """model.junior_dtype: the self-paired frozen copy is bfloat16 (half the memory), the senior stays fp32 and
    trains; tandem rollouts mix the two models' logits."""
    from tandem_rl.train.build import build

    cfg = _cfg(digit_task, tmp_path / "run", "model.junior_dtype=bfloat16", "rollout.schedule=word",
               "grpo.beta=0.01", "train.steps=2", "model.device=cpu")
    objs = build(cfg)
    assert next(objs.senior.parameters()).dtype == torch.float32
    assert next(objs.junior.parameters()).dtype == torch.bfloat16
    assert objs.reference is objs.junior  # one frozen copy serves both
    run = loop.train(cfg, progress=False)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert all(0 < r["senior_fraction"] < 1 for r in rows)  # both models wrote
    assert sum(r["updates"] for r in rows) > 0 and all(r["kl_ref"] == r["kl_ref"] for r in rows)
    with pytest.raises(ValueError, match="model.junior_dtype 'int8'"):
        loop.train(_cfg(digit_task, tmp_path / "bad", "model.junior_dtype=int8"), progress=False)


def test_static_decode_trains_the_same_run(digit_task, tmp_path):
    """rollout.decode=static (StaticCache, fixed shapes, no row compaction) writes the dynamic run's rollouts, so
    training ends with the same weights (float tolerance: log-probs agree to ~1e-6, not bitwise)."""
    from safetensors.torch import load_file

    extra = ("train.steps=3", "rollout.schedule=word", "train.dump_rollouts_every=1", "train.lr=3e-3",
             "train.save_every=3")
    dyn = loop.train(_cfg(digit_task, tmp_path / "dyn", *extra), progress=False)
    sta = loop.train(_cfg(digit_task, tmp_path / "sta", *extra, "rollout.decode=static"), progress=False)
    for s in (1, 2, 3):
        name = f"rollouts/step_{s:06d}.jsonl"
        assert (dyn / name).read_text() == (sta / name).read_text()
    assert sum(r["updates"] for r in _metrics(dyn)) >= 2
    wd, ws = (load_file(str(latest_checkpoint(r) / "model.safetensors")) for r in (dyn, sta))
    for k in wd:
        torch.testing.assert_close(wd[k], ws[k], rtol=1e-4, atol=1e-5)
