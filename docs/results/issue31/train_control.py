"""Issue #31 control arm: the demo's GRPO arm (arm_config(cfg, 'grpo', s, ...)) + reward.reject_regex, seeds 0-4,
one at a time, resumable (a run with checkpoints/latest.txt and all steps logged is skipped; otherwise resumed)."""
import dataclasses, json, sys, time
from pathlib import Path
import torch
from tandem_rl.world.demo import demo_config, arm_config, NOTATION_REGEX
from tandem_rl.train.checkpoint import latest_marker
from tandem_rl.train.loop import train

torch.set_num_threads(1)
OUT = Path("/tmp/c31")
seeds = [int(x) for x in sys.argv[1:]] or range(5)
# save_every=20 only for resumability (a checkpoint write does not change training numerics)
cfg = demo_config([f"reward.reject_regex={NOTATION_REGEX}", "train.save_every=20", "train.keep_last=1"])
for s in seeds:
    run_cfg = arm_config(cfg, "grpo", s, OUT)
    run_cfg = dataclasses.replace(run_cfg, train=dataclasses.replace(
        run_cfg.train, output_dir=str(OUT / "runs" / f"grpo_plain_s{s}")))
    run = Path(run_cfg.train.output_dir)
    m = run / "metrics.jsonl"
    done = m.exists() and sum(1 for _ in m.open()) >= run_cfg.train.steps and latest_marker(run).exists()
    if done:
        print(f"[control] {run.name}: finished, skipped", flush=True); continue
    resume = latest_marker(run).exists()
    t0 = time.time()
    print(f"[control] {run.name}: training{' (resuming)' if resume else ''}", flush=True)
    train(run_cfg, resume=resume, progress=False)
    print(f"[control] {run.name}: done in {time.time() - t0:.0f} s", flush=True)
