"""DeepSpeed ZeRO on the CPU: 2 processes (torchrun, gloo) train exactly what one process trains.

The task, the one-process reference run (A) and the comparisons are test_train_distributed.py's (imported, so the
tolerances are the same). The launches set what ``accelerate launch`` sets for a DeepSpeed config file
(``ACCELERATE_USE_DEEPSPEED``, ``ACCELERATE_DEEPSPEED_CONFIG_FILE``, ``ACCELERATE_MIXED_PRECISION``):

- ZeRO-1, -2 and -3 over 2 ranks end with A's weights, metrics and rollout dumps (lock-step padding, global
  denominators, the ``x W`` scale, clipping at ``train.grad_clip`` through DeepSpeed's config);
- ZeRO-3's step-2 checkpoint resumed by 1 process, and A's step-2 checkpoint resumed by 2 ZeRO-3 ranks, end with A's
  weights (checkpoints in the common format: full weights, index-keyed AdamW state);
- a 1-rank ZeRO-2/-3 engine skips an update with a non-finite loss (but finite gradient), as update.py drives it;
- ``deepspeed_zero.configure`` fills the DeepSpeed config from the trainer's and refuses conflicts.

ZeRO-3 is configured to re-partition every layer after use (``stage3_*`` = 0): with DeepSpeed's defaults a tiny
model stays gathered after its first forward and the hand-off of generation (``deepspeed_zero.full_weights``) would
not be exercised. Workers start through ``deepspeed_worker.py`` (skips DeepSpeed's one-time g++ build of a CPU
shared-memory op); ``DEEPSPEED_TIMEOUT=1`` makes a deadlock fail in a minute.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

# the DeepSpeed runs are subprocesses: this module only needs to know it is installed
if importlib.util.find_spec("deepspeed") is None:
    pytest.skip("deepspeed is not installed (pip install -e '.[test]')", allow_module_level=True)

from tandem_rl.train.parallel import deepspeed_zero  # noqa: E402
from tandem_rl.train.config import TrainConfig  # noqa: E402
from test_train_distributed import (_check_resume_with_one_process, _check_two_process_run, _launch_two,  # noqa: E402
                                    _rewind, _same_run, single, task)  # noqa: F401  (single, task: fixtures)

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = (os.path.join(HERE, "deepspeed_worker.py"),)
ZERO3_EVERY_LAYER = {"stage3_param_persistence_threshold": 0, "stage3_max_reuse_distance": 0,
                     "stage3_prefetch_bucket_size": 0, "stage3_max_live_parameters": 0}


def _ds_env(tmp_path, stage):
    config = {"train_micro_batch_size_per_gpu": "auto", "train_batch_size": "auto",
              "gradient_accumulation_steps": "auto", "gradient_clipping": "auto",
              "zero_optimization": {"stage": stage, **(ZERO3_EVERY_LAYER if stage == 3 else {})}}
    path = tmp_path / f"zero{stage}.json"
    path.write_text(json.dumps(config))
    return {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_CONFIG_FILE": str(path),
            "ACCELERATE_MIXED_PRECISION": "no", "DS_ACCELERATOR": "cpu", "DEEPSPEED_TIMEOUT": "1"}.items()


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_zero_two_processes_match_one(task, single, tmp_path, stage):
    two = tmp_path / "b"
    out = _launch_two(task, two, tmp_path, _ds_env(tmp_path, stage), entry=WORKER)
    assert f"DeepSpeed ZeRO-{stage} over 2" in out
    _check_two_process_run(two, single)
    if stage == 3:  # 2 ZeRO-3 ranks -> step-2 checkpoint -> 1 process resumes to step 4
        _check_resume_with_one_process(task, two, single, tmp_path)


def test_zero3_resumes_a_single_process_checkpoint(task, single, tmp_path):
    """1 process -> step-2 checkpoint -> 2 ZeRO-3 ranks resume to step 4: weights and AdamW moments scattered."""
    run = tmp_path / "d"
    _rewind(single, run, 2)
    assert "DeepSpeed ZeRO-3 over 2" in _launch_two(task, run, tmp_path, _ds_env(tmp_path, 3), resume=True,
                                                    entry=WORKER)
    _same_run(run, single)


NAN_SKIP = r"""
import importlib, json, sys
importlib.import_module("deepspeed.comm.torch")
sys.modules["deepspeed.comm.torch"].build_shm_op = lambda: None  # see deepspeed_worker.py
import deepspeed, torch
from tandem_rl.train.parallel import deepspeed_zero
from tandem_rl.train.parallel import deepspeed_zero as sharding

out = {}
for stage in (2, 3):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
    config = {"train_micro_batch_size_per_gpu": 1, "gradient_accumulation_steps": 1, "gradient_clipping": 1.0,
              "zero_allow_untested_optimizer": True, "zero_optimization": {"stage": stage}}
    engine, *_ = deepspeed.initialize(model=model, optimizer=torch.optim.AdamW(model.parameters(), lr=0.1),
                                      config=config)

    def weights():
        with sharding.full_weights(engine.module):
            return [p.detach().clone() for p in engine.module.parameters()]

    def update(losses_finite):  # one mini-batch of len(losses_finite) passes, as update.py runs it; the norm
        finite = True
        for k, ok in enumerate(losses_finite):
            last = k == len(losses_finite) - 1
            engine.set_gradient_accumulation_boundary(last)
            # a non-finite loss whose gradient is finite: only the trainer's skip rule can stop this step
            loss = engine(torch.ones(1, 4)).sum() + (0.0 if ok else float("inf"))
            finite = finite and ok
            deepspeed_zero.backward(engine, loss, last=last, finite=finite)
        return deepspeed_zero.step(engine)

    w0 = weights()
    bad = update([False, True])  # a non-finite loss, then a finite last pass: the whole update is skipped
    w1 = weights()
    good = update([True, True])
    w2 = weights()
    out[stage] = {"bad_norm": bad, "good_norm": good,
                  "skipped_unchanged": all(torch.equal(a, b) for a, b in zip(w0, w1)),
                  "then_moved": any(not torch.equal(a, b) for a, b in zip(w1, w2))}
print("RESULT " + json.dumps(out))
"""


def test_a_non_finite_loss_skips_the_zero_step(tmp_path):
    """``deepspeed_zero.backward`` turns a non-finite loss seen before the boundary into DeepSpeed's own skip (a
    non-finite global norm): no weight moves, and the next finite update steps normally (1 rank, ZeRO-2 and -3)."""
    with socket.socket() as sock:  # a free port for the 1-rank process group
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.path.dirname(HERE), "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu",
           "DEEPSPEED_TIMEOUT": "1", "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port)}
    proc = subprocess.run([sys.executable, "-c", NAN_SKIP], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    for stage, r in result.items():
        assert r["bad_norm"] == float("inf") or r["bad_norm"] != r["bad_norm"], (stage, r)  # inf or NaN: skipped
        assert r["skipped_unchanged"] and r["then_moved"], (stage, r)
        assert 0 < r["good_norm"] < float("inf"), (stage, r)


def _accelerator(ds_config):
    return SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=SimpleNamespace(deepspeed_config=ds_config)))


def test_configure_fills_from_the_trainer_and_refuses_conflicts():
    cfg = TrainConfig(grad_clip=0.5)
    ds = {"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": "auto",
          "gradient_accumulation_steps": "auto", "gradient_clipping": "auto"}
    assert deepspeed_zero.configure(_accelerator(ds), cfg) == 3
    assert (ds["train_micro_batch_size_per_gpu"], ds["gradient_accumulation_steps"], ds["gradient_clipping"]) == \
        (1, 1, 0.5)
    refused = [({"zero_optimization": {"stage": 0}}, "stage 0 is not supported"),
               ({"zero_optimization": {"stage": 2}, "bf16": {"enabled": True}}, "bf16 is not supported"),
               ({"zero_optimization": {"stage": 2}, "fp16": {"enabled": True}}, "fp16 is not supported"),
               ({"zero_optimization": {"stage": 2}, "gradient_accumulation_steps": 4}, "gradient_accumulation_steps=4"),
               ({"zero_optimization": {"stage": 2}, "gradient_clipping": 1.0}, "differs from train.grad_clip=0.5"),
               ({"zero_optimization": {"stage": 2, "compute_grad_norm": False}}, "compute_grad_norm")]
    for ds, message in refused:
        with pytest.raises(ValueError, match=message):
            deepspeed_zero.configure(_accelerator(ds), cfg)
