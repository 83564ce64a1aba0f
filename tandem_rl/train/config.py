"""Training loop settings: optimisation, batch shape, checkpoints and logging."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    output_dir: str = field(default="runs/default", metadata={"help": "Run folder: config, metrics, checkpoints, rollouts."})
    steps: int = field(default=200, metadata={"help": "Optimisation steps (each = one rollout batch). Paper: ~200."})
    prompts_per_step: int = field(default=16, metadata={"help": "Prompts per step (x group_size rollouts). Paper: 16."})
    mini_batches: int = field(default=2, metadata={"help": "Optimizer updates per step (mini-batches of prompts). Paper: 2."})
    epochs: int = field(default=1, metadata={"help": "PPO epochs over each rollout batch. Paper: 1."})
    lr: float = field(default=1e-6, metadata={"help": "AdamW learning rate. Paper: 1e-6."})
    seed: int = field(default=0, metadata={"help": "Seed for data order, rollouts and init."})
