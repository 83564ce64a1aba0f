"""`tandem-rl` command line: thin wrappers that parse arguments and call one function each.

Each subcommand lives next to the code it drives, in a module exposing ``add_arguments(parser)`` and ``run(args)``.
Bad input (``tandem_rl/errors.py``: a config, a path, a value) ends with one line
``tandem-rl <command>: error: ...`` and exit status 2; ``tandem-rl --debug <command> ...`` (or ``--debug`` anywhere
after the command) shows the traceback instead. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tandem_rl.errors import one_line

# subcommand -> (module, one-line help). Modules are imported only when their command runs (fast --help).
COMMANDS = {
    "train": ("tandem_rl.train.command", "Train a senior with tandem RL or vanilla GRPO (rollout.schedule=solo)."),
    "eval": ("tandem_rl.eval.command", "Solo / handoff pass@k, legibility, drift for one or more checkpoints."),
    "report": ("tandem_rl.report.command", "Build a self-contained HTML report from run and eval folders."),
    "world": ("tandem_rl.world.command", "The embedded synthetic-math world: `world build` re-creates the shipped models."),
    "demo": ("tandem_rl.world.demo", "Train GRPO and both tandem settings (self-paired, weaker junior) on the embedded world, evaluate with both partners, report (no downloads)."),
    "sweep": ("tandem_rl.world.sweep", "Grid of tandem knobs (p, solo_mix, junior T) on the embedded world: accuracy vs legibility."),
    "play": ("tandem_rl.play.command", "A person as the junior: a local page for human handoff studies."),
    "config": ("tandem_rl.config_command", "Print every config field with its default and help text."),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tandem-rl", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="Show the traceback of an error instead of one line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.print_help() if not argv or argv[0] in ("-h", "--help") else parser.parse_args(argv)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    sub = argparse.ArgumentParser(prog=f"tandem-rl {argv[0]}", description=COMMANDS[argv[0]][1])
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    args.debug = debug
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        message = one_line(err)
        if message is None or debug:
            raise
        print(f"tandem-rl {argv[0]}: error: {message} (--debug shows the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
