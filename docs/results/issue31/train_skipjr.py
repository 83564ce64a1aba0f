"""Issue #31 item 4: the demo's tandem_weak arm + grpo.skip_junior_errors, seeds 0-4, one at a time, resumable."""
import dataclasses, sys, time
from pathlib import Path
import torch
from tandem_rl.world.demo import demo_config, arm_config
from tandem_rl.train.checkpoint import latest_marker
from tandem_rl.train.loop import train

torch.set_num_threads(1)
OUT = Path("/tmp/c31")
seeds = [int(x) for x in sys.argv[1:]] or range(5)
cfg = demo_config(["grpo.step_checker=tandem_rl.world.steps:check_steps", "grpo.skip_junior_errors=true",
                   "train.save_every=20", "train.keep_last=1"])
for s in seeds:
    run_cfg = arm_config(cfg, "tandem_weak", s, OUT)
    run_cfg = dataclasses.replace(run_cfg, train=dataclasses.replace(
        run_cfg.train, output_dir=str(OUT / "runs" / f"tandem_skipjr_s{s}")))
    run = Path(run_cfg.train.output_dir)
    m = run / "metrics.jsonl"
    if m.exists() and sum(1 for _ in m.open()) >= run_cfg.train.steps and latest_marker(run).exists():
        print(f"[skipjr] {run.name}: finished, skipped", flush=True); continue
    resume = latest_marker(run).exists()
    t0 = time.time()
    print(f"[skipjr] {run.name}: training{' (resuming)' if resume else ''}", flush=True)
    train(run_cfg, resume=resume, progress=False)
    print(f"[skipjr] {run.name}: done in {time.time() - t0:.0f} s", flush=True)
