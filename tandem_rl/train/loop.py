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
the whole step; rank 0 alone writes the config, metrics, dumps, checkpoints and the progress bar; validation
is split over ranks. With one process every gather and sum over ranks is the identity.

``train(cfg)`` returns the run folder: ``config.yaml``, ``metrics.jsonl``, ``rollouts/``, ``checkpoints/`` (with
``best/`` when ``train.best_metric`` is set), ``validation.jsonl``. Steps are numbered from 1 in every output
(``step_000002`` = the state after two steps).
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from tandem_rl import rewards
from tandem_rl.cogen.pairing import co_generator
from tandem_rl.config_io import save_config, to_dict
from tandem_rl.data import encode_problems, load_problems, split_holdout
from tandem_rl.grpo.advantages import group_advantages
from tandem_rl.train import parallel
from tandem_rl.train.build import autocast_factory, build, lr_at
from tandem_rl.train.checkpoint import (BEST, best_record, checkpoint_name, improves, load_trainer_state,
                                        resume_point, rng_state, save_best, save_checkpoint, set_rng_state)
from tandem_rl.train.credit import Credit
from tandem_rl.train.data_order import step_indices
from tandem_rl.train.dump import dump_rollouts, rollout_rows
from tandem_rl.train.evaluate import HISTORY, append_history, validate, validation_sets
from tandem_rl.train.health import HealthMonitor
from tandem_rl.train.loggers import MetricLogger, truncate_jsonl
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
    start, counters = _restore(objs, ckpt, t, verbose=par.main) if ckpt else (0, Counters())
    data = _load_data(cfg, objs.tokenizer, par)
    my_groups = rank_groups(t.prompts_per_step, t.mini_batches, par.world, par.rank)
    with par.gathered(objs.senior):  # the constructor reads the output layer's shape
        generator = co_generator(objs.senior, objs.junior, objs.tokenizer, objs.junior_tokenizer,
                                 decode=cfg.rollout.decode)
    autocast = autocast_factory(cfg, objs.device)
    credit = Credit.from_config(cfg.grpo) if cfg.grpo.step_checker else None
    logger = MetricLogger(run_dir, t.loggers, project=t.project, config=to_dict(cfg),
                          resume_step=start if resume else None) if par.main else None
    best = _open_best(run_dir, start if resume else None, t, par)
    health = HealthMonitor.from_config(t, run_dir, resume_step=start if resume else None, main=par.main)
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
                                       autocast=autocast, progress=False, group_pos=my_groups, credit=credit)
                    adv, _ = group_advantages(mine.rewards, G, scale=cfg.grpo.scale_rewards, eps=cfg.grpo.adv_eps)
                    us = update_policy(objs, mine.rollouts, adv, cfg, autocast=autocast, lr=lr, credit=mine.credit)
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
                validated = _due(step, t.eval_every, last)
                if validated:
                    val = _evaluate(generator, grader, objs, data, cfg, i, autocast)
                    metrics.update(val)
                    best, is_best = _keep_best(run_dir, step, objs, val, t, best)
                    if par.main:
                        append_history(run_dir, step, val, best=is_best)
                metrics["step_seconds"] = time.perf_counter() - t_step
                if par.main and (_due(step, t.log_every, last) or validated):
                    logger.log(metrics)
                health.observe(metrics)  # warns; raises Collapsed after train.collapse_patience bad steps
                if health.may_save(last) and ((last and t.save_final) or (t.save_every and step % t.save_every == 0)):
                    _save(run_dir, step, objs, counters, lr, t)
                bar.set_postfix(reward=f"{metrics['reward_mean']:.3f}", solve=f"{metrics['solve_rate']:.2f}",
                                senior=f"{metrics['senior_fraction']:.2f}", **health.postfix())
                bar.update(1)
    finally:
        bar.close()
        health.close()  # health.json: the run's summary, also after a stop
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
    ckpt = resume_point(run_dir, resume, main=par.main)  # refuses a --resume with nothing to resume; never truncates
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


def _open_best(run_dir: Path, resume_step, t, par) -> dict | None:
    """The kept best so far (``checkpoints/best/best.json``). A fresh run drops a stale best and history; a resumed
    one keeps its best and drops validation lines after the checkpoint (as ``metrics.jsonl``)."""
    if par.main:
        if resume_step is None:
            shutil.rmtree(run_dir / "checkpoints" / BEST, ignore_errors=True)
            (run_dir / HISTORY).unlink(missing_ok=True)
        else:
            truncate_jsonl(run_dir / HISTORY, resume_step)
    par.barrier()
    record = best_record(run_dir) if t.best_metric else None
    if record is not None and record["metric"] != t.best_metric:
        raise ValueError(f"{run_dir}/checkpoints/best was chosen by {record['metric']!r} but train.best_metric is "
                         f"{t.best_metric!r}: resume with the run's metric, or move checkpoints/best away first")
    if record is not None and resume_step is not None and record["step"] > resume_step and par.main:
        # written after the checkpoint we resume from (a kill in between): bit-identical re-runs (CPU) reach it
        # again; elsewhere the kept best may hold a value the re-run history never reaches, so say so
        print(f"warning: checkpoints/best is from step {record['step']}, after the resumed step {resume_step}; it "
              f"is kept and later steps must beat {t.best_metric}={record['value']:.4g}. Move it away first to "
              f"choose the best from the re-run only.", flush=True)
    return record


def _keep_best(run_dir: Path, step: int, objs, val: dict, t, best: dict | None) -> tuple[dict | None, bool]:
    """Write ``checkpoints/best`` when ``train.best_metric`` beats the kept best (every rank takes part, as in
    ``_save``: the decision is the same on all ranks, since the metrics are summed over them)."""
    if not t.best_metric:
        return best, False
    if t.best_metric not in val:
        raise ValueError(f"train.best_metric {t.best_metric!r} is not a validation metric of this run; it logs "
                         f"{sorted(val)}")
    value = val[t.best_metric]
    # a best written by this very step before a kill (resumed from an earlier checkpoint): a re-run that reaches
    # its value again marks it as best again instead of leaving the history without one
    rerun = best is not None and best["step"] >= step and value == best["value"]
    if not (rerun or improves(value, best, t.best_metric)):
        return best, False
    par = objs.parallel
    weights = par.model_state(objs.senior)
    if par.main:
        save_best(run_dir, step, objs.senior, objs.tokenizer, metric=t.best_metric, value=value, state_dict=weights)
    par.barrier()
    return {"step": step, "checkpoint": checkpoint_name(step), "metric": t.best_metric, "value": value}, True


@dataclass
class _Data:
    train_problems: list
    train_ids: list
    val_sets: list        # the validation benchmarks (train/evaluate.py), whole: validate() splits them over ranks
    skipped_long: int     # prompts dropped for data.max_prompt_tokens (training and held-out)


def _load_data(cfg, tokenizer, par) -> _Data:
    problem_set = load_problems(cfg.data)
    train_set, held = split_holdout(problem_set.problems, cfg.data.holdout, cfg.data.shuffle_seed)
    tr, ho = encode_problems(tokenizer, train_set, cfg.data), encode_problems(tokenizer, held, cfg.data)
    skipped = len(tr.skipped) + len(ho.skipped)
    if not tr.problems:
        raise ValueError(f"data.source {cfg.data.source!r}: no training problems left "
                         f"({len(problem_set.problems)} loaded, {len(held)} held out, {skipped} prompts too long)")
    t = cfg.train
    if t.eval_every and not t.eval_benchmarks and not ho.problems[:t.eval_problems]:
        raise ValueError("train.eval_every > 0 needs validation problems: set data.holdout > 0 or "
                         "train.eval_benchmarks")
    val_sets = validation_sets(cfg, tokenizer, ho.problems, ho.prompt_ids) if t.eval_every else []
    return _Data(tr.problems, tr.prompt_ids, val_sets, skipped)


def _evaluate(generator, grader, objs, data: _Data, cfg, i: int, autocast) -> dict:
    """The validation metrics (``train/evaluate.py``): each rank answers its share, the sums are added over ranks."""
    par = objs.parallel
    with _explain_oom(f"step {i + 1}, evaluation", " Also train.eval_problems."):
        with par.gathered(objs.senior):
            return validate(generator, grader, data.val_sets, cfg, step=i, autocast=autocast, rank=par.rank,
                            world=par.world, all_sum=all_sum)
