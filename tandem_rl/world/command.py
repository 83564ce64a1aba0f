"""``tandem-rl world build [--out DIR]``: re-create the shipped tokenizer, junior, senior and problem files.

The default output is the package's own assets folder (what ``world:senior`` / ``world:junior`` resolve to).
"""

from __future__ import annotations

import argparse
import json

from tandem_rl.world.assets import ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="Train the world's junior and senior from scratch (deterministic, ~5-8 min CPU).")
    b.add_argument("--out", default=None, help="Output folder (default: the shipped assets folder).")
    b.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1).")
    b.add_argument("--jobs", type=int, default=2, help="Models trained at once, one process each (default 2).")
    b.add_argument("--device", default="cpu", help="cpu (default) or cuda: same recipe, not bitwise equal.")
    b.add_argument("--probe-n", type=int, default=None, help="Override the number of probe problems per figure.")
    b.add_argument("--junior-stop-at", type=float, default=None, help="Override the junior's target T=1 accuracy.")
    b.add_argument("--senior-steps", type=int, default=None, help="Override the senior's SFT steps.")
    b.add_argument("--junior-max-steps", type=int, default=None, help="Override the junior's maximum SFT steps.")


def run(args) -> int:
    from tandem_rl.world.recipe import Recipe, build  # torch: imported when the command runs (a quick --help)

    recipe = Recipe(threads=args.threads, jobs=args.jobs, device=args.device)
    if args.senior_steps is not None:
        recipe.senior_steps = args.senior_steps
    if args.junior_max_steps is not None:
        recipe.junior_max_steps = args.junior_max_steps
    if args.probe_n is not None:
        recipe.probe_n = args.probe_n
    if args.junior_stop_at is not None:
        recipe.junior_stop_at = args.junior_stop_at
    card = build(args.out or ROOT, recipe)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "sample_t1"} if isinstance(v, dict) else v
                      for k, v in card.items()}, indent=2))
    return 0
