"""``tandem-rl world build [--out DIR]``: re-create the shipped tokenizer, junior, senior and problem files;
``tandem-rl world breakdown EVAL_DIR``: accuracy per number of operations and notation shares (``breakdown.py``);
``tandem-rl world compare CARD``: a rebuilt world's figures against the shipped card's (``card.py``);
``tandem-rl world arithmetic MODEL...``: each model's chance of a wrong step result per notation (``arithmetic.py``).

The default output is the package's own assets folder (what ``world:senior`` / ``world:junior`` resolve to).
"""

from __future__ import annotations

import argparse
import json
import sys

from tandem_rl.world.assets import ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="Train the world's junior and senior from scratch (deterministic per device "
                                       "and thread count; ~20 min on 2 CPU cores).")
    b.add_argument("--out", default=None, help="Output folder (default: the shipped assets folder).")
    b.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1).")
    b.add_argument("--jobs", type=int, default=2, help="Models trained at once, one process each (default 2).")
    b.add_argument("--device", default="cpu", help="cpu (default) or cuda: same recipe, not bitwise equal.")
    b.add_argument("--probe-n", type=int, default=None, help="Override the number of probe problems per figure.")
    b.add_argument("--junior-stop-at", type=float, default=None, help="Override the junior's target T=1 accuracy.")
    b.add_argument("--senior-steps", type=int, default=None, help="Override the senior's SFT steps.")
    b.add_argument("--junior-max-steps", type=int, default=None, help="Override the junior's maximum SFT steps.")
    b.add_argument("--senior-plain-share", type=float, default=None, help="Override the senior's plain share.")
    b.add_argument("--senior-terse-share", type=float, default=None, help="Override the senior's terse share.")
    b.add_argument("--only", choices=("junior", "senior"), default=None,
                   help="Train one model only, into --out (the card then holds that model's figures alone).")
    c = sub.add_parser("compare", help="Compare a rebuilt world's card with the shipped one (figures within probe "
                                       "noise?): exit 1 if any figure differs beyond it.")
    c.add_argument("card", help="The rebuilt world_card.json.")
    c.add_argument("--shipped", default=None, help="The reference card (default: the shipped one).")
    d = sub.add_parser("breakdown", help="Accuracy per number of operations and notation shares of an evaluation "
                                         "folder on the world's problems.")
    d.add_argument("eval_dir", help="A `tandem-rl eval` output folder (e.g. runs/demo/eval/paper).")
    d.add_argument("--per-seed", action="store_true", help="One row per label instead of pooling <arm>_s<seed>.")
    d.add_argument("--json", action="store_true", help="Print JSON instead of tables.")
    a = sub.add_parser("arithmetic", help="Each senior's chance of writing a wrong step result, per notation, given a "
                                          "correct solution so far (teacher forcing on the world's test problems, "
                                          "at T 0.7 and at the evaluation's decoding), next to the false-result "
                                          "rate of its own solo samples at that decoding.")
    a.add_argument("seniors", nargs="+", metavar="[LABEL=]MODEL",
                   help="world:senior, a run folder (its newest checkpoint), RUN@best or a checkpoint folder.")
    a.add_argument("--limit", type=int, default=200, help="Test problems read (default 200; ~600 steps).")
    a.add_argument("--threads", type=int, default=1, help="torch threads (default 1).")
    a.add_argument("--json", action="store_true", help="Print JSON instead of a table.")


# build flags that override a Recipe field of the same name
RECIPE_FLAGS = ("senior_steps", "junior_max_steps", "probe_n", "junior_stop_at", "senior_plain_share",
                "senior_terse_share", "only")


def run(args) -> int:
    if args.action == "compare":
        from tandem_rl.world.card import compare_cards, format_comparison, load_card

        try:
            rows = compare_cards(load_card(args.shipped or ROOT / "world_card.json"), load_card(args.card))
        except (OSError, ValueError) as err:  # a missing/unreadable card, or cards of different world versions
            print(f"tandem-rl world compare: {err}", file=sys.stderr)
            return 2
        print(format_comparison(rows))
        return 0 if rows and all(r["agrees"] for r in rows) else 1
    if args.action == "breakdown":
        from tandem_rl.world.breakdown import breakdown, format_breakdown

        return _table("breakdown", lambda: breakdown(args.eval_dir, pool_seeds=not args.per_seed), format_breakdown,
                      args.json)
    if args.action == "arithmetic":
        import torch

        from tandem_rl.eval.command import parse_seniors
        from tandem_rl.world.arithmetic import format_arithmetic, measure  # torch: imported when the command runs

        torch.set_num_threads(max(1, args.threads))
        return _table("arithmetic", lambda: measure(parse_seniors(args.seniors), limit=args.limit), format_arithmetic,
                      args.json)
    from tandem_rl.world.recipe import Recipe, build  # torch: imported when the command runs (a quick --help)

    if args.only and not args.out:  # the shipped card would lose the other model's figures
        print("tandem-rl world build: --only needs --out (it writes a card for one model; the shipped assets keep "
              "both)", file=sys.stderr)
        return 2
    overrides = {field: getattr(args, field) for field in RECIPE_FLAGS if getattr(args, field) is not None}
    try:
        recipe = Recipe(threads=args.threads, jobs=args.jobs, device=args.device, **overrides)  # validated here
    except ValueError as err:
        print(f"tandem-rl world build: {err}", file=sys.stderr)
        return 2
    flags = [f"--{k.replace('_', '-')} {v}" for k, v in overrides.items()]
    command = " ".join(["tandem-rl world build", *(["--out", args.out] if args.out else []),
                        f"--threads {args.threads} --jobs {args.jobs} --device {args.device}", *flags])
    card = build(args.out or ROOT, recipe, command=command)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "sample_t1"} if isinstance(v, dict) else v
                      for k, v in card.items()}, indent=2))
    return 0



def _table(action: str, compute, fmt, as_json: bool) -> int:
    """Rows keyed by (name, part) as a table or JSON; a missing or unreadable input is a one-line error (exit 2)."""
    try:
        rows = compute()
    except (OSError, ValueError) as err:
        print(f"tandem-rl world {action}: {err}", file=sys.stderr)
        return 2
    print(json.dumps({f"{a} | {b}": r for (a, b), r in rows.items()}, indent=1) if as_json else fmt(rows))
    return 0
