"""The training loop: tandem RL and vanilla GRPO are this same code with a different ``rollout.schedule``.

One step, top to bottom::

    problems  = step_indices(step, ...)                 # deterministic from (seed, step); resumable
    rollouts  = collect(generator, grader, ...)         # G per prompt via CoGenerator.generate, graded
    adv, zero = group_advantages(rewards, G)            # (R - mean) / (std + 1e-6), per group
    stats     = update_policy(objs, rollouts, adv, cfg) # mini-batches of clipped surrogate on senior tokens
    log, dump rollouts, evaluate, checkpoint            # every N steps

Data parallel (``accelerate launch`` / ``torchrun`` with WORLD_SIZE > 1; DDP, FSDP2 or DeepSpeed ZeRO;
docs/distributed.md): each rank rolls out and trains on its slice of every mini-batch (``distributed.rank_groups``);
the graded rollouts are gathered so that metrics and dumps are those of the whole step; rank 0 alone writes the
config, metrics, dumps, checkpoints and the progress bar; the held-out evaluation is split over ranks.

``train(cfg)`` returns the run folder: ``config.yaml``, ``metrics.jsonl``, ``rollouts/``, ``checkpoints/``. Steps
are numbered from 1 in every output (``step_000002`` = the state after two steps).
"""

from __future__ import annotations

import dataclasses
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tandem_rl.config_io import save_config, to_dict
from tandem_rl.grpo.advantages import group_advantages
from tandem_rl.train import deepspeed_zero
from tandem_rl.train.build import autocast_factory, build, lr_at, wrap_data_parallel
from tandem_rl.train.checkpoint import latest_checkpoint, load_trainer_state, rng_state, save_checkpoint, set_rng_state
from tandem_rl.train.data_order import step_indices
from tandem_rl.train.distributed import all_gather, all_sum, launched_world_size, rank_groups
from tandem_rl.train.dump import dump_rollouts, rollout_rows
from tandem_rl.train.evaluate import solo_accuracy
from tandem_rl.train.loggers import MetricLogger
from tandem_rl.train.metrics import rollout_metrics
from tandem_rl.train.rollout import collect, join_ranks
from tandem_rl.train.sharding import (full_model_state, full_optimizer_state, full_weights, is_sharded,
                                     load_optimizer_state)
from tandem_rl.train.update import update_policy
from tandem_rl.train.validate import check_config

OOM_HELP = ("out of memory. Knobs, cheapest first: train.micro_batch_tokens (lower; never changes the loss), "
            "model.gradient_checkpointing=true, train.mixed_precision=bf16, rollout.max_new_tokens (lower), "
            "train.generation_batch_size (rows per engine call), train.prompts_per_step (lower).")


@dataclass
class Counters:
    """Running totals, saved in checkpoints."""

    nan_skips: int = 0
    zero_std_groups: int = 0
    no_senior_rows: int = 0
    empty_updates: int = 0
    rollouts: int = 0
    rollout_tokens: int = 0


def annealed_p(cfg, step: int) -> float:
    """``rollout.p`` moved linearly to ``rollout.p_end`` over training (constant when p_end is null)."""
    r = cfg.rollout
    if r.p_end is None:
        return r.p
    return r.p + (r.p_end - r.p) * step / max(cfg.train.steps - 1, 1)


def _load_data(cfg, tokenizer):
    """(train problems, train prompt ids, held-out problems, held-out prompt ids, skipped-long count)."""
    from tandem_rl.data import encode_problems, load_problems, split_holdout

    problem_set = load_problems(cfg.data)
    train_set, held = split_holdout(problem_set.problems, cfg.data.holdout, cfg.data.shuffle_seed)
    tr, ho = encode_problems(tokenizer, train_set, cfg.data), encode_problems(tokenizer, held, cfg.data)
    skipped = len(tr.skipped) + len(ho.skipped)
    if not tr.problems:
        raise ValueError(f"data.source {cfg.data.source!r}: no training problems left "
                         f"({len(problem_set.problems)} loaded, {len(held)} held out, {skipped} prompts too long)")
    return tr.problems, tr.prompt_ids, ho.problems, ho.prompt_ids, skipped


def _start_data_parallel(cfg):
    """(accelerator, cfg for this rank) when launched with several processes, else (None, cfg)."""
    if launched_world_size() <= 1:
        return None, cfg
    from accelerate import Accelerator, DistributedDataParallelKwargs

    if deepspeed_zero.requested():  # never cpu=True: on CPUs that silently runs DDP instead
        acc = Accelerator(**deepspeed_zero.accelerator_kwargs())
        deepspeed_zero.configure(acc, cfg.train)
    else:
        # gradients as views into DDP's buckets: saves one full gradient copy (16 GB for a 4B fp32 senior)
        ddp = DistributedDataParallelKwargs(gradient_as_bucket_view=True)
        # without cpu=True Accelerate runs 1 process on CPUs
        acc = Accelerator(cpu=not torch.cuda.is_available(), kwargs_handlers=[ddp])
        _fsdp_on_cpu(acc)
    if acc.num_processes != launched_world_size():
        raise RuntimeError(f"launched with WORLD_SIZE={launched_world_size()} but Accelerate sees "
                           f"{acc.num_processes} process(es)")
    jd = cfg.model.junior_device
    if jd is not None and jd != "cpu":
        # one junior per rank: a fixed cuda:N would stack every rank's junior on that one GPU
        if acc.is_main_process:
            print(f"data parallel: model.junior_device={jd} ignored; each rank keeps its junior on its own device "
                  f"(or set model.junior_device=cpu)")
        jd = None
    return acc, dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, junior_device=jd))


def _fsdp_on_cpu(acc) -> None:
    """Honour ``ACCELERATE_USE_FSDP=true`` (``accelerate launch --use_fsdp``, FSDP configs) on CPUs too.

    Accelerate only switches to FSDP on accelerators and silently runs DDP on CPU processes; torch's FSDP2 runs on
    CPUs over gloo, so the same sharded code path is used there (the CPU tests rely on it)."""
    import os

    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    asked = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
    if asked and acc.device.type == "cpu" and acc.distributed_type == DistributedType.MULTI_CPU:
        acc.state.fsdp_plugin = FullyShardedDataParallelPlugin()  # reads the FSDP_* variables the launcher set
        acc.state.distributed_type = DistributedType.FSDP


def train(cfg, *, resume: bool = False, progress: bool = True, grader=None) -> Path:
    """Train the senior per ``cfg``; with ``resume`` continue from ``checkpoints/latest.txt``. Returns the run folder.

    ``grader``: grade with this object instead of a ``GraderPool`` built from ``cfg.reward`` (the caller owns its
    lifetime). Anything with ``GraderPool.grade``'s signature works, e.g. ``rewards.FunctionGrader(my_reward)``.
    """
    from tqdm.auto import tqdm

    from tandem_rl.cogen.engine import CoGenerator
    from tandem_rl.rewards import GraderPool

    check_config(cfg)
    t = cfg.train
    acc, build_cfg = _start_data_parallel(cfg)
    rank, world = (acc.process_index, acc.num_processes) if acc else (0, 1)
    main = rank == 0
    my_groups = rank_groups(t.prompts_per_step, t.mini_batches, world, rank)
    run_dir = Path(t.output_dir)
    ckpt = latest_checkpoint(run_dir) if resume else None
    if not resume and (run_dir / "checkpoints" / "latest.txt").exists():
        raise FileExistsError(f"{run_dir} already holds a run with checkpoints: pass --resume to continue it, "
                              f"or set train.output_dir to a new folder")
    if acc:
        acc.wait_for_everyone()  # every rank has looked for checkpoints before rank 0 writes anything
    progress = progress and main
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    random.seed(t.seed)
    np.random.seed(t.seed % 2**32)
    torch.manual_seed(t.seed)

    with deepspeed_zero.ordinary_loading(acc):  # ZeRO-3: frozen models must load whole on every rank
        objs = build(build_cfg, ckpt, device=acc.device if acc else None)
    if acc:
        wrap_data_parallel(objs, acc)
        if main:
            mode = deepspeed_zero.describe(objs) or ("FSDP2 (sharded senior)" if is_sharded(objs.senior) else "DDP")
            print(f"data parallel: {mode} over {world} processes on {acc.device.type}", flush=True)
    start, counters = 0, Counters()
    if ckpt is not None:
        state = load_trainer_state(ckpt)
        load_optimizer_state(objs.senior, objs.optimizer, state["optimizer"])
        set_rng_state(state["rng"])
        start, counters = int(state["step"]), Counters(**state["counters"])
        if int(state["data_position"]) != start * t.prompts_per_step:
            raise ValueError(f"{ckpt}: saved data position {state['data_position']} does not match step {start} x "
                             f"train.prompts_per_step={t.prompts_per_step}; resume with the run's prompts_per_step")
        if progress:
            print(f"resuming from {ckpt} (step {start})")
    train_probs, train_ids, held_probs, held_ids, skipped_long = _load_data(cfg, objs.tokenizer)
    held_probs, held_ids = held_probs[:t.eval_problems], held_ids[:t.eval_problems]
    has_held = bool(held_probs)
    held_probs, held_ids = held_probs[rank::world], held_ids[rank::world]  # evaluation split over ranks
    if t.eval_every and not has_held:
        raise ValueError("train.eval_every > 0 needs held-out problems: set data.holdout > 0")
    with full_weights(objs.senior):  # ZeRO-3: the constructor reads the output layer's shape, whole only here
        generator = CoGenerator(objs.senior, objs.junior, objs.tokenizer, decode=cfg.rollout.decode)
    autocast = autocast_factory(cfg, objs.device)
    P, G = t.prompts_per_step, cfg.grpo.group_size
    logger = MetricLogger(run_dir, t.loggers, project=t.project, config=to_dict(cfg),
                          resume_step=start if resume else None) if main else None
    bar = tqdm(total=t.steps, initial=start, disable=not progress, desc="train", dynamic_ncols=True)
    try:
        with nullcontext(grader) if grader is not None else GraderPool.from_config(cfg.reward) as grader:
            for i in range(start, t.steps):
                step = i + 1
                t_step = time.perf_counter()
                lr = lr_at(i, t)
                rc = dataclasses.replace(cfg.rollout, p=annealed_p(cfg, i))
                step_idx = step_indices(i, len(train_probs), P, t.seed)
                idx = [step_idx[g] for g in my_groups]
                try:
                    with full_weights(objs.senior):  # FSDP2, ZeRO-3: gathered once, ranks then decode independently
                        mine = collect(generator, grader, objs.tokenizer, [train_ids[k] for k in idx],
                                       [train_probs[k].answer for k in idx], idx, cfg, step=i, rollout_cfg=rc,
                                       autocast=autocast, progress=False, group_pos=my_groups if acc else None)
                    adv, _ = group_advantages(mine.rewards, G, scale=cfg.grpo.scale_rewards, eps=cfg.grpo.adv_eps)
                    us = update_policy(objs, mine.rollouts, adv, cfg, autocast=autocast, lr=lr)
                except torch.OutOfMemoryError as err:
                    raise RuntimeError(f"step {step}: {OOM_HELP}") from err
                # the whole step's rollouts, in group order, for metrics, counters and dumps (identical on all ranks)
                sr = join_ranks(all_gather(mine), all_gather(my_groups), G) if acc else mine
                _, zero_std = group_advantages(sr.rewards, G, scale=cfg.grpo.scale_rewards, eps=cfg.grpo.adv_eps)
                gen_tokens = int(sum(len(r) for r in sr.rollouts.response_ids))
                no_senior = int(sum(int(a.sum()) == 0 for a in sr.rollouts.author))
                counters.nan_skips += us.nan_skips
                counters.zero_std_groups += int(zero_std.sum())
                counters.no_senior_rows += no_senior
                counters.empty_updates += us.empty_updates
                counters.rollouts += len(sr.rollouts)
                counters.rollout_tokens += gen_tokens
                if counters.nan_skips > t.max_nan_skips:
                    raise RuntimeError(f"step {step}: {counters.nan_skips} updates skipped for a non-finite loss or "
                                       f"gradient (train.max_nan_skips={t.max_nan_skips}). Try a lower train.lr, "
                                       f"train.mixed_precision=no, or check the data.")
                metrics = {"step": step, "lr": lr, "p": rc.p, "data_position": step * P}
                metrics.update(rollout_metrics(sr, zero_std, G))
                metrics.update({
                    "loss": us.loss, "policy_loss": us.policy_loss, "clip_frac": us.clip_frac, "entropy": us.entropy,
                    "kl_ref": us.kl_ref, "kl_junior": us.kl_junior, "grad_norm": us.grad_norm,
                    "logprob_mismatch": us.logprob_mismatch, "updates": us.updates,
                    "skipped_nan": us.nan_skips, "skipped_nan_total": counters.nan_skips,
                    "skipped_empty_updates": us.empty_updates, "zero_std_groups": int(zero_std.sum()),
                    "no_senior_rows": no_senior, "trained_rows": us.trained_rows,
                    "prompts_skipped_too_long": skipped_long,
                    "rollout_tokens": gen_tokens, "rollout_tokens_per_s": gen_tokens / max(sr.gen_seconds, 1e-9),
                    "update_tokens_per_s": us.tokens / max(us.seconds, 1e-9), "grade_seconds": sr.grade_seconds,
                    "update_seconds": us.seconds, "rollout_seconds": sr.gen_seconds,
                })
                last = step == t.steps
                if main and t.dump_rollouts_every and (step % t.dump_rollouts_every == 0 or last):
                    dump_rollouts(run_dir, step, rollout_rows(step, sr, train_probs, objs.tokenizer, G))
                if t.eval_every and (step % t.eval_every == 0 or last):
                    try:
                        with full_weights(objs.senior):
                            acc_here = solo_accuracy(generator, grader, held_ids, [p.answer for p in held_probs],
                                                     cfg, step=i, autocast=autocast)
                        n_here = len(held_ids)
                        total, n = all_sum([acc_here * n_here if n_here else 0.0, float(n_here)])
                        metrics["eval_solo_acc"] = total / n if n else float("nan")
                    except torch.OutOfMemoryError as err:
                        raise RuntimeError(f"step {step}, evaluation: {OOM_HELP} Also train.eval_problems.") from err
                metrics["step_seconds"] = time.perf_counter() - t_step
                if main and (step % t.log_every == 0 or last or "eval_solo_acc" in metrics):
                    logger.log(metrics)
                if (t.save_every and step % t.save_every == 0) or last:
                    # FSDP2, ZeRO: weights and AdamW states gathered to rank 0 (collectives); DDP: equal on all ranks
                    weights = full_model_state(objs.senior)
                    state = {"step": step, "data_position": step * P,
                             "optimizer": full_optimizer_state(objs.senior, objs.optimizer),
                             "rng": rng_state(), "counters": dataclasses.asdict(counters), "lr": lr, "version": 1}
                    if main:  # one writer
                        save_checkpoint(run_dir, step, objs.senior, objs.tokenizer, state, keep_last=t.keep_last,
                                        state_dict=weights)
                    if acc:
                        acc.wait_for_everyone()
                bar.set_postfix(reward=f"{metrics['reward_mean']:.3f}", solve=f"{metrics['solve_rate']:.2f}",
                                senior=f"{metrics['senior_fraction']:.2f}")
                bar.update(1)
    finally:
        bar.close()
        if logger is not None:
            logger.close()
    return run_dir
