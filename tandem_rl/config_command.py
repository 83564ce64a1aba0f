"""`tandem-rl config [CONFIG.yaml] [key=value ...]`: print fields with help, or the resolved YAML."""

from __future__ import annotations

import yaml

from tandem_rl.config import Config, load_config
from tandem_rl.config_io import describe, to_dict


def add_arguments(parser) -> None:
    parser.add_argument("config", nargs="?", help="YAML file to resolve (omit to list every field).")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.steps=10")


def run(args) -> int:
    if args.config is None and not args.overrides:
        print("\n".join(describe(Config)))
        return 0
    cfg = load_config(args.config, args.overrides)
    print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
    return 0
