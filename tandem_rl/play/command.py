"""`tandem-rl play [CONFIG] --senior LABEL=PATH ... [--problems SOURCE] [--port N] [--out runs/play]`.

Serves the study page on localhost and prints its URL; every finished problem is appended to
``<out>/human.jsonl``; Ctrl-C stops the server (a problem in progress is not recorded). Example::

    tandem-rl play configs/demo.yaml --senior grpo=runs/grpo --senior tandem=runs/tandem --limit 20
    tandem-rl report runs/play evals/demo --out report.html     # human handoff accuracy per senior

Seniors are loaded like the evaluation's (a run folder, ``RUN@best``, a model folder, ``world:senior``); prompts
use ``data.instruction``; seniors decode with the evaluation's settings (``eval.temperature`` etc.), each step
at most ``eval.max_new_tokens`` tokens; answers are graded with the ``reward`` section.
"""

from __future__ import annotations

from pathlib import Path

from tandem_rl.config import load_config
from tandem_rl.errors import UserError


def add_arguments(parser) -> None:
    parser.add_argument("config", nargs="?", help="YAML config (omit for defaults); key=value overrides may follow.")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. eval.temperature=0.7")
    parser.add_argument("--senior", action="append", default=[], metavar="[LABEL=]PATH",
                        help="A senior (repeatable; several are compared blind); default: model.senior.")
    parser.add_argument("--problems", default=None, metavar="SOURCE",
                        help="Problems (any data source; default: the first of eval.benchmarks).")
    parser.add_argument("--limit", type=int, default=20, help="Problems per session (default 20).")
    parser.add_argument("--protocol", choices=("handoff", "finish", "both"), default="handoff",
                        help="handoff: alternate steps with the senior; finish: finish from the senior's first "
                             "step(s); both: balanced mix.")
    parser.add_argument("--finish-steps", type=int, default=1, help="Steps of the senior's prefix (finish).")
    parser.add_argument("--max-turns", type=int, default=12, help="Turns (senior + person) before a problem ends.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the assignment and of the seniors' sampling.")
    parser.add_argument("--out", default="runs/play", help="Folder of human.jsonl (appended, never overwritten).")
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default: this machine only).")
    parser.add_argument("--port", type=int, default=8765, help="Port (0: any free port).")


PROTOCOLS = {"handoff": ("handoff_human",), "finish": ("finish_human",), "both": ("handoff_human", "finish_human")}


def build_study(cfg, seniors: dict[str, str], *, problems: str, limit: int, protocols, out, max_turns: int = 12,
                finish_steps: int = 1, seed: int = 0):
    """Load the seniors, the problems and a grader pool; returns a ``Study`` (close ``study.pool`` when done)."""
    import dataclasses

    from tandem_rl.data.loading import load_problems
    from tandem_rl.data.prompts import encode_problems
    from tandem_rl.eval.runner import benchmark_name, eval_rollout, resolve_checkpoint
    from tandem_rl.models import load_model, load_tokenizer
    from tandem_rl.play.senior import SeniorWriter
    from tandem_rl.play.study import Study
    from tandem_rl.rewards.pool import GraderPool

    mc = cfg.model
    paths = {label: resolve_checkpoint(p) for label, p in seniors.items()}
    tok = load_tokenizer(next(iter(paths.values())))
    rollout = dataclasses.replace(eval_rollout(cfg, "solo"), max_turns=None)
    writers = {label: SeniorWriter(load_model(p, dtype=mc.dtype, device=mc.device), tok, rollout)
               for label, p in paths.items()}
    ps = load_problems(dataclasses.replace(cfg.data, source=problems, holdout=0, limit=limit)).problems
    enc = encode_problems(tok, ps, cfg.data)
    if not enc.problems:
        raise ValueError(f"play: no problem of {problems!r} fits data.max_prompt_tokens")
    return Study(writers, tok, enc.problems, enc.prompt_ids, GraderPool.from_config(cfg.reward), Path(out),
                 benchmark=benchmark_name(problems), protocols=protocols, max_turns=max_turns,
                 finish_steps=finish_steps, answer_format=cfg.reward.answer_format, seed=seed)


LOOPBACK = ("127.0.0.1", "localhost")


def _is_ipv4(host: str) -> bool:
    import ipaddress

    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address) and host != "0.0.0.0"
    except ValueError:
        return False


def run(args) -> int:
    from tandem_rl.eval.command import check_inputs, parse_seniors

    bad = [f"{flag} must be >= {low}, got {value}" for flag, value, low in
           (("--max-turns", args.max_turns, 2), ("--limit", args.limit, 1), ("--finish-steps", args.finish_steps, 1),
            ("--port", args.port, 0)) if value < low]
    if bad:  # checked before any model loads
        raise UserError("; ".join(bad))
    if args.host not in LOOPBACK and not _is_ipv4(args.host):
        raise UserError(f"--host {args.host!r}: give 127.0.0.1 (default) or one IPv4 address of this machine (IPv6 "
                        f"and wildcard addresses such as 0.0.0.0 are not supported)")
    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and not Path(config).exists():
        config, overrides = None, [config] + overrides  # only overrides were given
    cfg = load_config(config, overrides)
    seniors = parse_seniors(args.senior) or ({"senior": cfg.model.senior} if cfg.model.senior else {})
    if not seniors:
        raise UserError("give --senior LABEL=PATH (or set model.senior)")
    problems = args.problems or (cfg.eval.benchmarks[0] if cfg.eval.benchmarks else None)
    if not problems:
        raise UserError("give --problems SOURCE (or set eval.benchmarks)")
    check_inputs(cfg, seniors, {})
    server = _bind(args.host, args.port)  # the port is taken before the models load (minutes for a 4B senior)
    try:
        server.study = study = build_study(
            cfg, seniors, problems=problems, limit=args.limit, protocols=PROTOCOLS[args.protocol], out=args.out,
            max_turns=args.max_turns, finish_steps=args.finish_steps, seed=args.seed)
    except BaseException:
        server.server_close()
        raise
    if args.host not in LOOPBACK:
        print(f"warning: bound to {args.host}: other machines that can reach this address can open the page at "
              f"http://{args.host}:{server.server_address[1]}/")
    print(f"{len(study.problems)} problems, seniors compared blind: {', '.join(seniors)}; "
          f"records appended to {Path(args.out) / 'human.jsonl'}")
    print(f"open {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
        study.pool.close()
    return 0


def _bind(host: str, port: int):
    from tandem_rl.play.server import make_server

    try:
        return make_server(None, host=host, port=port)
    except OSError as err:  # in use, or not an address of this machine
        raise UserError(f"--host {host} --port {port}: cannot listen there ({err.strerror or err}); pick another "
                        f"--port (0: any free one)") from err
