"""Training loop settings: optimisation, batch shape, precision, checkpoints and logging.

Paper values are from Jiao et al. 2026 (§4, their verl 0.5 launchers); where the paper is silent the default is
verl's (the framework the paper ran on) and the help text says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

LR_SCHEDULES = ("constant", "cosine")
LOGGERS = ("jsonl", "tensorboard", "wandb", "trackio")
PRECISIONS = ("no", "bf16")


@dataclass
class TrainConfig:
    output_dir: str = field(default="runs/default", metadata={"help": "Run folder: config, metrics, checkpoints, rollouts."})
    steps: int = field(default=200, metadata={"help": "Optimisation steps (each = one rollout batch). Paper: ~200."})
    prompts_per_step: int = field(default=16, metadata={"help": "Prompts per step (x group_size rollouts). Paper: 16."})
    mini_batches: int = field(default=2, metadata={"help": (
        "Optimizer updates per step: the step's prompt groups are split into this many mini-batches. Paper: 2 "
        "(mini-batch 8 of 16 prompts).")})
    epochs: int = field(default=1, metadata={"help": "PPO epochs over each rollout batch. Paper: 1."})
    lr: float = field(default=1e-6, metadata={"help": "AdamW peak learning rate. Paper: 1e-6."})
    lr_schedule: str = field(default="constant", metadata={"help": (
        "'constant' (paper; verl default) or 'cosine' (decay to min_lr_ratio x lr at the last step), after warmup.")})
    warmup_steps: int = field(default=0, metadata={"help": (
        "Linear warmup from 0 over this many training steps. Paper: not stated; verl default: none.")})
    min_lr_ratio: float = field(default=0.0, metadata={"help": "Cosine schedule: final lr as a fraction of lr."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay. Paper: not stated; verl actor default 0.01."})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1 (verl/torch default 0.9)."})
    adam_beta2: float = field(default=0.999, metadata={"help": "AdamW beta2 (verl/torch default 0.999)."})
    adam_eps: float = field(default=1e-8, metadata={"help": "AdamW epsilon."})
    grad_clip: float = field(default=1.0, metadata={"help": "Clip the global gradient norm to this (0 = off). Paper: 1.0."})
    micro_batch_tokens: int = field(default=8192, metadata={"help": (
        "Token budget of one forward/backward: rows are packed so that rows x padded length <= this (a longer "
        "row goes alone). Lower it on out-of-memory; it never changes the loss, only memory and speed.")})
    mixed_precision: str = field(default="no", metadata={"help": (
        "'no' (compute in the model dtype) or 'bf16' (torch autocast for rollouts and updates; keep "
        "model.dtype=float32 so AdamW updates of lr 1e-6 are not rounded away). Paper: bf16 (verl FSDP mixed precision).")})
    generation_batch_size: int = field(default=0, metadata={"help": (
        "Rows per engine call during rollouts (0 = all prompts x group_size rows in one call). Data parallel: a "
        "value dividing each rank's slice of a mini-batch (prompts_per_step / mini_batches / processes x "
        "group_size) makes the samples identical to a single-process run.")})
    seed: int = field(default=0, metadata={"help": "Seed for data order, rollouts and init."})
    save_every: int = field(default=50, metadata={"help": "Checkpoint every N steps (0 = only at the end)."})
    save_final: bool = field(default=True, metadata={"help": (
        "Checkpoint at the last step too. False: only every save_every steps (benchmarks, throwaway runs; a 4B "
        "senior's checkpoint with its AdamW state is ~50 GB). A run is resumable and evaluable only from a checkpoint.")})
    keep_last: int = field(default=3, metadata={"help": "Keep the newest N checkpoints; older ones are deleted (0 = keep all)."})
    log_every: int = field(default=1, metadata={"help": "Write metrics every N steps (the step's own values, not averages)."})
    dump_rollouts_every: int = field(default=10, metadata={"help": (
        "Write rollouts/step_NNNNNN.jsonl (text, per-token authorship, reward) every N steps (0 = never).")})
    eval_every: int = field(default=0, metadata={"help": (
        "Validation every N steps (0 = off; also after the last step when on): the senior on the validation "
        "problems (train.eval_benchmarks, else data.holdout) -> eval_solo_acc, eval_pass@k (macro over "
        "benchmarks) and eval_pass@k/<benchmark>, in metrics.jsonl and validation.jsonl. Authors: every 20 steps "
        "(tandem) / 40 (GRPO).")})
    eval_problems: int = field(default=128, metadata={"help": (
        "At most this many problems per validation benchmark (the first ones after data.shuffle_seed's shuffle).")})
    eval_greedy: bool = field(default=True, metadata={"help": (
        "Validate greedily (true) or by sampling with train.eval_temperature/top_p/top_k (false).")})
    eval_benchmarks: list[str] = field(default_factory=list, metadata={"help": (
        "Validation data sources (same forms as data.source), each a benchmark of the macro average; empty = the "
        "held-out problems of data.holdout. Authors: AMC, AIME, Minerva (the evaluation sets themselves).")})
    eval_schedule: str = field(default="solo", metadata={"help": (
        "Validation protocol: 'solo' (the senior alone) or a handoff schedule with the junior (paragraph, word, "
        "...; paragraph stops after eval.max_rounds rounds). Authors: solo.")})
    eval_samples: int = field(default=1, metadata={"help": (
        "Samples per validation problem: eval_pass@k is logged for k = 1..n (unbiased estimator). Authors: 4.")})
    eval_temperature: Optional[float] = field(default=None, metadata={"help": (
        "Validation temperature when eval_greedy is false; null = eval.temperature. Authors: 0.6.")})
    eval_top_p: Optional[float] = field(default=None, metadata={"help": (
        "Validation top_p when eval_greedy is false; null = eval.top_p. Authors: 0.95.")})
    eval_top_k: Optional[int] = field(default=None, metadata={"help": (
        "Validation top_k when eval_greedy is false (0 = off); null = eval.top_k. Authors: off.")})
    best_metric: str = field(default="", metadata={"help": (
        "Keep checkpoints/best: the weights of the step where this validation metric (higher = better, e.g. "
        "eval_pass@4) was highest so far; never removed by keep_last; evaluate it as RUN@best. Empty = keep none. "
        "Authors: validation pass@4, macro over AMC / AIME / Minerva.")})
    max_nan_skips: int = field(default=10, metadata={"help": (
        "Non-finite loss or gradient skips the update (counted); training stops after this many skips.")})
    stop_on_collapse: bool = field(default=False, metadata={"help": (
        "Stop with exit status 3 after train.collapse_patience bad steps in a row (train/health.py: no learning "
        "signal, reward stuck at 0, non-finite or missing updates, gradient-norm spikes, entropy collapse); no "
        "checkpoint is written during a bad streak, so the newest one predates the collapse. Off: the health "
        "monitor only warns (bar, console, health.json). Demo: on.")})
    collapse_patience: int = field(default=5, metadata={"help": (
        "Bad steps in a row (any health rule that counts toward a collapse) before train.stop_on_collapse stops "
        "the run; also the streak that marks a run 'collapsed' in health.json.")})
    loggers: list[str] = field(default_factory=lambda: ["jsonl", "tensorboard"], metadata={"help": (
        "Metric sinks: jsonl (always written), tensorboard, wandb, trackio (the last two only when installed).")})
    project: str = field(default="tandem-rl", metadata={"help": "Project name for wandb/trackio."})

    def validate(self) -> None:
        positive = ("steps", "prompts_per_step", "mini_batches", "epochs", "micro_batch_tokens", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        non_negative = ("warmup_steps", "save_every", "keep_last", "dump_rollouts_every", "eval_every",
                        "eval_problems", "max_nan_skips", "generation_batch_size", "grad_clip", "weight_decay")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if self.prompts_per_step % self.mini_batches:
            raise ValueError(f"train.prompts_per_step ({self.prompts_per_step}) must be divisible by "
                             f"train.mini_batches ({self.mini_batches})")
        if not self.lr > 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"train.lr_schedule {self.lr_schedule!r} is not one of {LR_SCHEDULES}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"train.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"train.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"train.mixed_precision {self.mixed_precision!r} is not one of {PRECISIONS}")
        if self.collapse_patience < 1:
            raise ValueError(f"train.collapse_patience must be >= 1, got {self.collapse_patience}")
        if self.eval_samples < 1:
            raise ValueError(f"train.eval_samples must be >= 1, got {self.eval_samples}")
        if self.best_metric:
            if not self.eval_every:
                raise ValueError(f"train.best_metric={self.best_metric!r} needs validation: set train.eval_every > 0")
            known = ["eval_solo_acc"] + [f"eval_pass@{k}" for k in range(1, self.eval_samples + 1)]
            if self.best_metric.split("/")[0] not in known:
                raise ValueError(f"train.best_metric {self.best_metric!r} is not a validation metric; with "
                                 f"train.eval_samples={self.eval_samples} choose from {known} (or "
                                 f"eval_pass@k/<benchmark>)")
            if self.best_metric == "eval_solo_acc" and self.eval_schedule != "solo":
                raise ValueError("train.best_metric eval_solo_acc is logged only for train.eval_schedule=solo")
        unknown = [x for x in self.loggers if x not in LOGGERS]
        if unknown:
            raise ValueError(f"train.loggers: unknown logger(s) {unknown}; choose from {LOGGERS}")
