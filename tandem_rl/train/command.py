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
from tandem_rl.errors import UserError, one_line


def add_arguments(parser) -> None:
    parser.add_argument("config", help="YAML config (any subset of sections; `tandem-rl config` lists every field).")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.steps=10 rollout.schedule=solo")
    parser.add_argument("--resume", action="store_true",
                        help="Continue from train.output_dir/checkpoints/latest.txt (weights, optimizer, RNG, data position).")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")


def run(args) -> int:
    """Exit status: 0 done; 2 bad input (one line, ``tandem_rl/errors.py``); 1 the run failed (repeated non-finite
    updates, out of memory); 3 stopped by ``train.stop_on_collapse`` (``train/health.py``)."""
    from tandem_rl.models import check_model_names
    from tandem_rl.train.health import Collapsed
    from tandem_rl.train.loop import train  # torch: imported when the command runs (a quick --help)

    cfg = load_config(args.config, args.overrides)  # a bad file / override / value: the CLI prints one line
    check_model_names(cfg.model)  # a missing path is named before any model loads
    debug = getattr(args, "debug", False)
    try:
        run_dir = train(cfg, resume=args.resume, progress=not args.no_progress)
    except Collapsed as err:
        print(f"tandem-rl train: stopped: {err}", file=sys.stderr)
        return 3
    except UserError:
        raise  # the CLI prints it (exit 2)
    except (ValueError, FileExistsError, FileNotFoundError) as err:  # bad input found while opening the run
        if debug:
            raise
        print(f"tandem-rl train: error: {one_line(err) or err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # the run itself failed: the message says what to change
        if debug:
            raise
        print(f"tandem-rl train: failed: {err}", file=sys.stderr)
        return 1
    print(f"run folder: {run_dir}")
    return 0
