"""Data parallelism on the CPU: 2 processes (torchrun, gloo) train exactly what one process trains.

One tiny Llama, SFT-ed to answer ``\\boxed{d}`` with a random digit (reward: only 3 is right), is trained for 4 steps
of 4 prompts x 4 rollouts in 2 mini-batches:

- A: one process, in this test process (the reference);
- B: ``torchrun --nproc_per_node 2 -m tandem_rl.cli train``: each rank rolls out and trains on one group per
  mini-batch. ``train.generation_batch_size = G`` makes its engine calls, and so its samples, those of A;
  ``train.micro_batch_tokens = 1`` gives every row its own backward, so the ranks need the lock-step padding
  whenever their trainable row counts differ.
- C: B's step-2 checkpoint resumed by one process for 2 more steps (2 procs -> save -> 1 proc).
- B and C again with FSDP2 (weights, gradients and AdamW states sharded over the 2 ranks), and D: A's step-2
  checkpoint resumed by 2 FSDP2 processes (1 proc -> save -> 2 sharded procs).

B, C and D must end with A's weights (float tolerance: gradients are summed in another order) and A's metrics.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_rl.config import load_config
from tandem_rl.train import loop
from tandem_rl.train.checkpoint import latest_checkpoint
from tandem_rl.train.parallel.ranks import rank_groups
from tiny import digit_task, tiny_model, tiny_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OVERRIDES = ["data.instruction=", "train.prompts_per_step=4", "train.mini_batches=2", "grpo.group_size=4",
             "train.generation_batch_size=4", "train.micro_batch_tokens=1", "rollout.max_new_tokens=8",
             "rollout.temperature=1.0", "rollout.schedule=word", "reward.workers=0", "train.loggers=[jsonl]",
             "train.lr=3e-3", "train.steps=4", "train.save_every=2", "train.dump_rollouts_every=1",
             "grpo.lambda_jun=0.05",
             # gradient norms here are 0.15-0.6: clipping is active in most updates, so it is compared too
             "train.grad_clip=0.3",
             # near-zero gradient entries (|g| ~ eps) turn summation-order roundoff into O(lr) AdamW steps; a larger
             # eps keeps the comparison of different reduction orders (DDP, FSDP2, ZeRO) about the algorithm
             "train.adam_eps=1e-6"]
TIMING = ("seconds", "tokens_per_s")


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    model, problems = digit_task(tmp_path_factory.mktemp("dist"), sft_steps=30, n_problems=12)
    return [f"model.senior={model}", f"data.source={problems}", *OVERRIDES]


def _metrics(run):
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not any(t in k for t in TIMING)} for r in rows]


def _weights(run):
    from safetensors.torch import load_file

    return load_file(str(latest_checkpoint(run) / "model.safetensors"))


def _close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def _close_metrics(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for k in ra:
            if isinstance(ra[k], float) and isinstance(rb[k], float):
                assert ra[k] == pytest.approx(rb[k], rel=1e-3, abs=1e-5), (ra["step"], k)
            else:
                assert ra[k] == rb[k], (ra["step"], k)


# ``accelerate launch`` with an FSDP2 config sets these; the loop honours them on CPUs too (parallel._fsdp_on_cpu)
FSDP2_ENV = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
             "FSDP_TRANSFORMER_CLS_TO_WRAP": "LlamaDecoderLayer", "FSDP_RESHARD_AFTER_FORWARD": "true",
             "FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT", "FSDP_CPU_RAM_EFFICIENT_LOADING": "true"}


def _launch_two(task, out, tmp_path, extra_env=(), resume=False, entry=("-m", "tandem_rl.cli")):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT, **dict(extra_env)}
    cfg_file = tmp_path / "empty.yaml"
    cfg_file.write_text("{}\n")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           *entry, "train", str(cfg_file), *task, f"train.output_dir={out}", "--no-progress",
           *(["--resume"] if resume else [])]
    # own process group, so a hang kills torchrun *and* its workers
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        pytest.fail(f"2-process run hung (killed after 240 s): {err[-3000:]}")
    assert proc.returncode == 0, err[-3000:]
    return out


def _rewind(src, dst, step):
    """A copy of run ``src`` as it was after ``step`` (later checkpoints and metrics removed)."""
    shutil.copytree(src, dst)
    for ckpt in (dst / "checkpoints").glob("step_*"):
        if int(ckpt.name.split("_")[1]) > step:
            shutil.rmtree(ckpt)
    (dst / "checkpoints" / "latest.txt").write_text(f"step_{step:06d}\n")
    rows = (dst / "metrics.jsonl").read_text().splitlines()
    (dst / "metrics.jsonl").write_text("".join(r + "\n" for r in rows if json.loads(r)["step"] <= step))


@pytest.fixture(scope="module")
def single(task, tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "a"
    run = loop.train(load_config(None, [*task, f"train.output_dir={out}"]), progress=False)
    m = _metrics(run)
    assert sum(r["updates"] for r in m) >= 4 and any(r["reward_mean"] > 0 for r in m)  # a real update happened
    return run


def _same_run(run, single):
    _close(_weights(run), _weights(single))
    _close_metrics(_metrics(run), _metrics(single))


def _check_two_process_run(two, single):
    """A 2-process run equals the 1-process one (weights, metrics, the whole step's dumps written once), only
    rank 0 wrote checkpoints."""
    _same_run(two, single)
    for step in (1, 4):  # dumps: the whole step, in group order, written once
        name = f"rollouts/step_{step:06d}.jsonl"
        assert (two / name).read_text() == (single / name).read_text()
    assert sorted(p.name for p in (two / "checkpoints").glob("step_*")) == ["step_000002", "step_000004"]


def _check_resume_with_one_process(task, two, single, tmp_path):
    """The 2-process run's step-2 checkpoint, resumed by 1 process to step 4, ends where the 1-process run did."""
    resumed = tmp_path / "c"
    _rewind(two, resumed, 2)
    loop.train(load_config(None, [*task, f"train.output_dir={resumed}"]), resume=True, progress=False)
    _same_run(resumed, single)


@pytest.mark.parametrize("sharding", ["ddp", "fsdp2"])
def test_two_processes_match_one_and_resume_with_one(task, single, tmp_path, sharding):
    two = tmp_path / "b"
    out = _launch_two(task, two, tmp_path, FSDP2_ENV.items() if sharding == "fsdp2" else ())
    assert {"ddp": "DDP over 2", "fsdp2": "FSDP2 (sharded senior) over 2"}[sharding] in out
    _check_two_process_run(two, single)
    _check_resume_with_one_process(task, two, single, tmp_path)  # 2 processes -> checkpoint -> 1 process


def test_fsdp2_resumes_a_single_process_checkpoint(task, single, tmp_path):
    """1 process -> step-2 checkpoint -> 2 FSDP2 processes resume to step 4: the AdamW states are scattered."""
    run = tmp_path / "d"
    _rewind(single, run, 2)
    assert "FSDP2 (sharded senior) over 2" in _launch_two(task, run, tmp_path, FSDP2_ENV.items(), resume=True)
    _same_run(run, single)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
def test_rank_groups_split_every_mini_batch_evenly(mini_batches, world, per_rank):
    prompts = mini_batches * world * per_rank
    shards = [rank_groups(prompts, mini_batches, world, r) for r in range(world)]
    assert sorted(g for s in shards for g in s) == list(range(prompts))
    per_mb = prompts // mini_batches
    for s in shards:  # each rank: per_rank groups of every mini-batch, in mini-batch order
        assert [g // per_mb for g in s] == [m for m in range(mini_batches) for _ in range(per_rank)]


def test_rank_groups_refuses_uneven_split():
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        rank_groups(prompts=6, mini_batches=2, world=2, rank=0)


class _DDPAccelerator:
    """The two Accelerator methods ``wrap_data_parallel`` calls, with a real DDP wrapper (1-process gloo group)."""

    distributed_type = "DistributedType.MULTI_CPU"

    def prepare_model(self, model, device_placement=False):
        return torch.nn.parallel.DistributedDataParallel(model)

    def unwrap_model(self, model):
        return model.module


@pytest.fixture
def gloo_world(tmp_path):
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    torch.distributed.destroy_process_group()


def test_only_the_senior_is_wrapped_and_trained(gloo_world, tmp_path):
    from tandem_rl.train.build import build
    from tandem_rl.train.parallel import wrap_data_parallel

    tok = tiny_tokenizer()
    tiny_model(tok, seed=1).save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    cfg = load_config(None, [f"model.senior={tmp_path / 'm'}", "model.device=cpu", "grpo.beta=0.01"])
    objs = wrap_data_parallel(build(cfg), _DDPAccelerator())
    assert isinstance(objs.policy, torch.nn.parallel.DistributedDataParallel)
    assert objs.senior is objs.policy.module
    for frozen in (objs.junior, objs.reference):
        assert not isinstance(frozen, torch.nn.parallel.DistributedDataParallel)
        assert not any(p.requires_grad for p in frozen.parameters())
    before = {k: v.clone() for k, v in objs.junior.state_dict().items()}
    ids = torch.tensor([[1, 2, 3, 4]])
    objs.policy(input_ids=ids, labels=ids).loss.backward()
    objs.optimizer.step()
    trained = {id(p) for p in objs.optimizer.state}
    assert trained and trained <= {id(p) for p in objs.senior.parameters()}
    assert not trained & {id(p) for p in objs.junior.parameters()}
    assert all(torch.equal(before[k], v) for k, v in objs.junior.state_dict().items())
    assert all(p.grad is None for p in objs.junior.parameters())


def test_fsdp1_and_megatron_are_refused_clearly(tmp_path):
    from tandem_rl.train.build import TrainObjects
    from tandem_rl.train.parallel import wrap_data_parallel

    class Fsdp1(_DDPAccelerator):
        distributed_type = "DistributedType.FSDP"
        is_fsdp2 = False

    class Megatron(_DDPAccelerator):
        distributed_type = "DistributedType.MEGATRON_LM"

    m = torch.nn.Linear(2, 2)
    objs = TrainObjects(m, None, None, None, torch.optim.AdamW(m.parameters()), torch.device("cpu"))
    with pytest.raises(ValueError, match="FSDP version 1 is not supported.*fsdp_version: 2"):
        wrap_data_parallel(objs, Fsdp1())
    with pytest.raises(ValueError, match="MEGATRON_LM is not supported.*ddp-2gpu.yaml.*deepspeed-zero3"):
        wrap_data_parallel(objs, Megatron())
    assert objs.policy is None  # nothing was wrapped
