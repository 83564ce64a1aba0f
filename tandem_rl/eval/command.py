"""`tandem-rl eval [CONFIG.yaml] --senior LABEL=PATH ... [key=value ...]`: evaluate checkpoints, write records.

Examples::

    tandem-rl eval configs/demo.yaml --senior grpo=runs/grpo --senior tandem=runs/tandem \\
        --junior world:junior --base world:senior --out evals/demo --displacement grpo,tandem --setting west
    tandem-rl eval configs/demo.yaml --senior tandem=runs/tandem_self --senior grpo=runs/grpo \\
        --junior world:senior --out evals/paper --setting paper 'eval.pairs=[tandem - grpo]'
    tandem-rl eval --senior runs/grpo eval.benchmarks=[data/aime.jsonl] eval.n_samples=4

PATH is a model folder, a hub name, ``world:<name>`` or a run folder (its newest checkpoint). Without ``--junior``
the junior is ``model.junior``, else ``model.senior`` (the paper's self-paired junior: the senior's pre-RL
weights); without ``--base`` the base is ``model.senior``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tandem_rl.config import load_config
from tandem_rl.errors import ConfigError, UserError


def add_arguments(parser) -> None:
    parser.add_argument("config", nargs="?", help="YAML config (omit for defaults); key=value overrides may follow.")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. eval.n_samples=4")
    parser.add_argument("--senior", action="append", default=[], metavar="[LABEL=]PATH",
                        help="A senior checkpoint to evaluate (repeatable); LABEL defaults to the folder name.")
    parser.add_argument("--junior", default=None, help="Junior for handoff and legibility (default: see above).")
    parser.add_argument("--base", default=None, help="Base model for drift/displacement (default: model.senior).")
    parser.add_argument("--out", default="evals/default", help="Output folder (one subfolder per label).")
    parser.add_argument("--displacement", default=None, metavar="GRPO_LABEL,TANDEM_LABEL",
                        help="Token displacement between two of the seniors (sets eval.displacement).")
    parser.add_argument("--group", action="append", default=[], metavar="NAME=LABEL1,LABEL2",
                        help="Labels that are seeds of one arm (repeatable; adds to eval.seed_groups).")
    parser.add_argument("--step-checker", default=None, metavar="MODULE:FUNCTION",
                        help="Faithfulness step checker (sets eval.step_checker).")
    parser.add_argument("--setting", default=None, metavar="NAME",
                        help="The setting measured, written into every summary (sets eval.setting): 'paper' when the "
                             "junior is the frozen base, 'west' when it is a weaker model.")
    parser.add_argument("--reuse", action="store_true",
                        help="Labels whose samples.jsonl already exists in --out are read back, not generated again.")
    parser.add_argument("--no-progress", action="store_true", help="Hide progress bars.")


def parse_seniors(specs: list[str]) -> dict[str, str]:
    """['grpo=runs/a', 'runs/b'] -> {'grpo': 'runs/a', 'b': 'runs/b'}; duplicate labels are errors."""
    out: dict[str, str] = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep:
            path, label = spec, Path(spec.rstrip("/")).name or spec
        if not label or not path:
            raise ConfigError(f"--senior {spec!r}: expected LABEL=PATH or PATH")
        if label in out:
            raise ConfigError(f"--senior: label {label!r} given twice")
        out[label] = path
    return out


def parse_groups(specs: list[str]) -> dict[str, list[str]]:
    out = {}
    for spec in specs:
        name, sep, labels = spec.partition("=")
        members = [x.strip() for x in labels.split(",") if x.strip()]
        if not sep or not name or not members:
            raise ConfigError(f"--group {spec!r}: expected NAME=LABEL1,LABEL2")
        out[name] = members
    return out


def check_inputs(cfg, seniors: dict[str, str], models: dict[str, str]) -> dict[str, str]:
    """Check what can be checked before any model loads (a bad value must not wait for generation): the rollout
    and reward settings, the evaluation's decoding, every senior (``RUN@best`` and run folders resolved: returns
    label -> checkpoint) and the other models (``models``: flag -> name). Errors name the flag or field."""
    from tandem_rl.eval.runner import eval_rollout, resolve_checkpoint
    from tandem_rl.models import check_source

    try:
        cfg.rollout.validate()
        cfg.reward.validate()
    except ValueError as err:
        raise ConfigError(str(err)) from err
    try:
        eval_rollout(cfg, "solo").validate()
    except ValueError as err:  # the engine's names for eval.temperature / top_p / top_k / max_new_tokens
        raise ConfigError(f"the evaluation's decoding (eval section): {err}") from err
    paths = {}
    for label, spec in seniors.items():
        paths[label] = resolve_checkpoint(spec)  # a missing RUN@best / run folder: an error naming what it holds
        check_source(paths[label], f"--senior {label}")
    for flag, name in models.items():
        check_source(name, flag)
    return paths


def run(args) -> int:
    from tandem_rl.eval.runner import evaluate  # torch: imported when the command runs (a quick --help)

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and not Path(config).exists():
        config, overrides = None, [config] + overrides  # only overrides were given
    cfg = load_config(config, overrides)
    if args.displacement:
        cfg.eval.displacement = args.displacement
    if args.step_checker:
        cfg.eval.step_checker = args.step_checker
    if args.setting:
        cfg.eval.setting = args.setting
    cfg.eval.seed_groups = {**cfg.eval.seed_groups, **parse_groups(args.group)}
    seniors = parse_seniors(args.senior)
    if not seniors:
        if not cfg.model.senior:
            raise UserError("give --senior LABEL=PATH (or set model.senior)")
        seniors = {"senior": cfg.model.senior}
    junior = args.junior or cfg.model.junior or cfg.model.senior
    if not junior:
        raise UserError("no junior; pass --junior PATH or set model.junior / model.senior")
    base = args.base or cfg.model.senior or None
    check_inputs(cfg, seniors, {"--junior": junior, **({"--base": base} if base else {})})
    result = evaluate(cfg, seniors, junior=junior, base=base, output_dir=args.out, progress=not args.no_progress,
                      reuse=args.reuse)
    k = cfg.eval.report_k
    for label, s in result["labels"].items():
        line = {"label": label, "setting": cfg.eval.setting, "junior": junior}
        for name in ("solo_pass@k", *(f"handoff_{h}_pass@k" for h in cfg.eval.handoff_schedules)):
            if name in s["metrics"]:
                vals = s["metrics"][name]["macro"]["value"]
                line[name.replace("@k", f"@{min(k, len(vals))}")] = vals[min(k, len(vals)) - 1]
        for name in ("legibility_ce", "legibility_ce_per_byte", "drift_kl_base", "notation_rate",
                     "transfer_tokens_auc", "transfer_steps_auc"):
            if name in s["metrics"]:
                line[name] = s["metrics"][name]["macro"]["value"]
        print(json.dumps(line))
    print(f"wrote {args.out}")
    return 0
