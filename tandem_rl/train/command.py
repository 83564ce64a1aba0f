"""`tandem-rl train CONFIG.yaml [key=value ...] [--resume]`: load the config, call ``loop.train``.

    tandem-rl train configs/paper-qwen3-4b-deepscaler.yaml                          # tandem (schedule word)
    tandem-rl train configs/paper-qwen3-4b-deepscaler.yaml rollout.schedule=solo \\
        train.output_dir=runs/grpo                                                  # vanilla GRPO
    tandem-rl train runs/grpo/config.yaml --resume                                  # continue after a stop
    accelerate launch --config_file configs/accelerate/ddp-2gpu.yaml \
        -m tandem_rl.cli train CONFIG.yaml                                          # data parallel (docs/distributed.md)
"""

from __future__ import annotations

import sys

from tandem_rl.config import load_config


def add_arguments(parser) -> None:
    parser.add_argument("config", help="YAML config (any subset of sections; `tandem-rl config` lists every field).")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.steps=10 rollout.schedule=solo")
    parser.add_argument("--resume", action="store_true",
                        help="Continue from train.output_dir/checkpoints/latest.txt (weights, optimizer, RNG, data position).")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")


def run(args) -> int:
    from tandem_rl.train.loop import train  # torch: imported when the command runs (a quick --help)

    try:
        cfg = load_config(args.config, args.overrides)
    except (ValueError, OSError) as err:
        print(f"tandem-rl train: config error: {err}", file=sys.stderr)
        return 2
    try:
        run_dir = train(cfg, resume=args.resume, progress=not args.no_progress)
    except (ValueError, FileExistsError, FileNotFoundError, RuntimeError) as err:
        print(f"tandem-rl train: {err}", file=sys.stderr)
        return 1
    print(f"run folder: {run_dir}")
    return 0
