"""The training loop: tandem RL and vanilla GRPO are this same code with a different ``rollout.schedule``.

One step, top to bottom::

    problems  = step_indices(step, ...)                 # deterministic from (seed, step); resumable
    rollouts  = collect(generator, grader, ...)         # G per prompt via CoGenerator.generate, graded
    adv, zero = group_advantages(rewards, G)            # (R - mean) / (std + 1e-6), per group
    stats     = update_policy(objs, rollouts, adv, cfg) # mini-batches of clipped surrogate on senior tokens
    log, dump rollouts, evaluate, checkpoint            # every N steps

Data parallel (``accelerate launch`` / ``torchrun`` with several processes; docs/distributed.md): ``parallel.start``
picks the run's backend once and the loop only calls its methods; each rank rolls out and trains on its slice of
every mini-batch (``ranks.rank_groups``); the graded rollouts are gathered so that metrics and dumps are those of
the whole step; rank 0 alone writes the config, metrics, dumps, checkpoints and the progress bar; the held-out
evaluation is split over ranks. With one process every gather and sum over ranks is the identity.

``train(cfg)`` returns the run folder: ``config.yaml``, ``metrics.jsonl``, ``rollouts/``, ``checkpoints/``. Steps
are numbered from 1 in every output (``step_000002`` = the state after two steps).
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from tandem_rl import rewards
from tandem_rl.cogen import engine
from tandem_rl.config_io import save_config, to_dict
from tandem_rl.data import encode_problems, load_problems, split_holdout
from tandem_rl.grpo.advantages import group_advantages
from tandem_rl.train import parallel
from tandem_rl.train.build import autocast_factory, build, lr_at
from tandem_rl.train.checkpoint import (latest_checkpoint, latest_marker, load_trainer_state, rng_state,
                                        save_checkpoint, set_rng_state)
from tandem_rl.train.data_order import step_indices
from tandem_rl.train.dump import dump_rollouts, rollout_rows
from tandem_rl.train.evaluate import solo_accuracy
from tandem_rl.train.loggers import MetricLogger
from tandem_rl.train.metrics import Counters, step_metrics
from tandem_rl.train.parallel.ranks import all_gather, all_sum, rank_groups
from tandem_rl.train.rollout import collect, join_ranks
from tandem_rl.train.update import update_policy
from tandem_rl.train.validate import check_config

OOM_HELP = ("out of memory. Knobs, cheapest first: train.micro_batch_tokens (lower; never changes the loss), "
            "model.gradient_checkpointing=true, train.mixed_precision=bf16, rollout.max_new_tokens (lower), "
            "train.generation_batch_size (rows per engine call), train.prompts_per_step (lower).")


def train(cfg, *, resume: bool = False, progress: bool = True, grader=None) -> Path:
    """Train the senior per ``cfg``; with ``resume`` continue from ``checkpoints/latest.txt``. Returns the run folder.

    ``grader``: grade with this object instead of a ``GraderPool`` built from ``cfg.reward`` (the caller owns its
    lifetime). Anything with ``GraderPool.grade``'s signature works, e.g. ``rewards.FunctionGrader(my_reward)``.
    """
    check_config(cfg)
    t, G = cfg.train, cfg.grpo.group_size
    par = parallel.start(cfg)
    run_dir, ckpt = _open_run(cfg, resume, par)
    objs = build(cfg, ckpt, par)
    start, counters = _restore(objs, ckpt, t, verbose=progress and par.main) if ckpt else (0, Counters())
    data = _load_data(cfg, objs.tokenizer, par)
    my_groups = rank_groups(t.prompts_per_step, t.mini_batches, par.world, par.rank)
    with par.gathered(objs.senior):  # the constructor reads the output layer's shape
        generator = engine.CoGenerator(objs.senior, objs.junior, objs.tokenizer, decode=cfg.rollout.decode)
    autocast = autocast_factory(cfg, objs.device)
    logger = MetricLogger(run_dir, t.loggers, project=t.project, config=to_dict(cfg),
                          resume_step=start if resume else None) if par.main else None
    bar = tqdm(total=t.steps, initial=start, disable=not (progress and par.main), desc="train", dynamic_ncols=True)
    grading = contextlib.nullcontext(grader) if grader is not None else rewards.GraderPool.from_config(cfg.reward)
    try:
        with grading as grader:
            for i in range(start, t.steps):
                step, t_step, lr, last = i + 1, time.perf_counter(), lr_at(i, t), i + 1 == t.steps
                rc = dataclasses.replace(cfg.rollout, p=annealed_p(cfg, i))
                step_idx = step_indices(i, len(data.train_problems), t.prompts_per_step, t.seed)
                idx = [step_idx[g] for g in my_groups]
                with _explain_oom(f"step {step}"):
                    with par.gathered(objs.senior):  # gathered once: the ranks then decode independently
                        mine = collect(generator, grader, objs.tokenizer, [data.train_ids[k] for k in idx],
                                       [data.train_problems[k].answer for k in idx], idx, cfg, step=i, rollout_cfg=rc,
                                       autocast=autocast, progress=False, group_pos=my_groups)
                    adv, _ = group_advantages(mine.rewards, G, scale=cfg.grpo.scale_rewards, eps=cfg.grpo.adv_eps)
                    us = update_policy(objs, mine.rollouts, adv, cfg, autocast=autocast, lr=lr)
                # the whole step's rollouts, in group order, for metrics, counters and dumps (identical on all ranks)
                sr = join_ranks(all_gather(mine), all_gather(my_groups), G)
                _, zero_std = group_advantages(sr.rewards, G, scale=cfg.grpo.scale_rewards, eps=cfg.grpo.adv_eps)
                counters.add(sr, zero_std, us)
                if counters.nan_skips > t.max_nan_skips:
                    raise RuntimeError(f"step {step}: {counters.nan_skips} updates skipped for a non-finite loss or "
                                       f"gradient (train.max_nan_skips={t.max_nan_skips}). Try a lower train.lr, "
                                       f"train.mixed_precision=no, or check the data.")
                metrics = step_metrics(step, lr=lr, p=rc.p, data_position=step * t.prompts_per_step,
                                       step_rollouts=sr, zero_std=zero_std, group_size=G, us=us, counters=counters,
                                       prompts_skipped_too_long=data.skipped_long)
                if par.main and _due(step, t.dump_rollouts_every, last):
                    dump_rollouts(run_dir, step, rollout_rows(step, sr, data.train_problems, objs.tokenizer, G))
                if _due(step, t.eval_every, last):
                    metrics["eval_solo_acc"] = _evaluate(generator, grader, objs, data, cfg, i, autocast)
                metrics["step_seconds"] = time.perf_counter() - t_step
                if par.main and (_due(step, t.log_every, last) or "eval_solo_acc" in metrics):
                    logger.log(metrics)
                if last or _due(step, t.save_every, last):
                    _save(run_dir, step, objs, counters, lr, t)
                bar.set_postfix(reward=f"{metrics['reward_mean']:.3f}", solve=f"{metrics['solve_rate']:.2f}",
                                senior=f"{metrics['senior_fraction']:.2f}")
                bar.update(1)
    finally:
        bar.close()
        if logger is not None:
            logger.close()
    return run_dir


def annealed_p(cfg, step: int) -> float:
    """``rollout.p`` moved linearly to ``rollout.p_end`` over training (constant when p_end is null)."""
    r = cfg.rollout
    if r.p_end is None:
        return r.p
    return r.p + (r.p_end - r.p) * step / max(cfg.train.steps - 1, 1)


def _due(step: int, every: int, last: bool) -> bool:
    """Every ``every`` steps and at the last one (never when ``every`` is 0)."""
    return bool(every) and (step % every == 0 or last)


@contextlib.contextmanager
def _explain_oom(where: str, more: str = ""):
    try:
        yield
    except torch.OutOfMemoryError as err:
        raise RuntimeError(f"{where}: {OOM_HELP}{more}") from err


def _open_run(cfg, resume: bool, par) -> tuple[Path, Path | None]:
    """The run folder and the checkpoint to resume from; rank 0 writes ``config.yaml``; the RNGs seeded."""
    run_dir = Path(cfg.train.output_dir)
    ckpt = latest_checkpoint(run_dir) if resume else None
    if not resume and latest_marker(run_dir).exists():
        raise FileExistsError(f"{run_dir} already holds a run with checkpoints: pass --resume to continue it, "
                              f"or set train.output_dir to a new folder")
    par.barrier()  # every rank has looked for checkpoints before rank 0 writes anything
    if par.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    seed = cfg.train.seed
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return run_dir, ckpt


def _restore(objs, ckpt: Path, t, *, verbose: bool) -> tuple[int, Counters]:
    """Optimizer, RNG states and counters from ``ckpt``; returns (steps done, counters)."""
    state = load_trainer_state(ckpt)
    objs.parallel.load_optimizer_state(objs.senior, objs.optimizer, state["optimizer"])
    set_rng_state(state["rng"])
    start = int(state["step"])
    if int(state["data_position"]) != start * t.prompts_per_step:
        raise ValueError(f"{ckpt}: saved data position {state['data_position']} does not match step {start} x "
                         f"train.prompts_per_step={t.prompts_per_step}; resume with the run's prompts_per_step")
    if verbose:
        print(f"resuming from {ckpt} (step {start})")
    return start, Counters(**state["counters"])


def _save(run_dir: Path, step: int, objs, counters: Counters, lr: float, t) -> None:
    """A checkpoint after ``step``: every rank takes part (sharded backends gather to rank 0), rank 0 writes."""
    par = objs.parallel
    weights = par.model_state(objs.senior)
    state = {"step": step, "data_position": step * t.prompts_per_step,
             "optimizer": par.optimizer_state(objs.senior, objs.optimizer), "rng": rng_state(),
             "counters": dataclasses.asdict(counters), "lr": lr, "version": 1}
    if par.main:
        save_checkpoint(run_dir, step, objs.senior, objs.tokenizer, state, keep_last=t.keep_last, state_dict=weights)
    par.barrier()


@dataclass
class _Data:
    train_problems: list
    train_ids: list
    held_problems: list   # this rank's share of the first train.eval_problems held-out problems
    held_ids: list
    skipped_long: int     # prompts dropped for data.max_prompt_tokens (training and held-out)


def _load_data(cfg, tokenizer, par) -> _Data:
    problem_set = load_problems(cfg.data)
    train_set, held = split_holdout(problem_set.problems, cfg.data.holdout, cfg.data.shuffle_seed)
    tr, ho = encode_problems(tokenizer, train_set, cfg.data), encode_problems(tokenizer, held, cfg.data)
    skipped = len(tr.skipped) + len(ho.skipped)
    if not tr.problems:
        raise ValueError(f"data.source {cfg.data.source!r}: no training problems left "
                         f"({len(problem_set.problems)} loaded, {len(held)} held out, {skipped} prompts too long)")
    n = cfg.train.eval_problems
    if cfg.train.eval_every and not ho.problems[:n]:
        raise ValueError("train.eval_every > 0 needs held-out problems: set data.holdout > 0")
    share = slice(par.rank, None, par.world)  # the evaluation is split over ranks
    return _Data(tr.problems, tr.prompt_ids, ho.problems[:n][share], ho.prompt_ids[:n][share], skipped)


def _evaluate(generator, grader, objs, data: _Data, cfg, i: int, autocast) -> float:
    """``eval_solo_acc``: solo accuracy on the held-out problems, each rank its share, averaged over all."""
    with _explain_oom(f"step {i + 1}, evaluation", " Also train.eval_problems."):
        with objs.parallel.gathered(objs.senior):
            acc = solo_accuracy(generator, grader, data.held_ids, [p.answer for p in data.held_problems], cfg,
                                step=i, autocast=autocast)
    n_here = len(data.held_ids)
    total, n = all_sum([acc * n_here if n_here else 0.0, float(n_here)])
    return total / n if n else float("nan")
