"""GRPO loss settings (Shao et al. 2024; the paper keeps them unchanged between GRPO and tandem)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GRPOConfig:
    group_size: int = field(default=8, metadata={"help": "G: rollouts per prompt. Paper: 8."})
    clip_eps_low: float = field(default=0.2, metadata={"help": "PPO clip below (1 - eps_low). Paper: 0.2."})
    clip_eps_high: float = field(default=0.2, metadata={"help": "PPO clip above (1 + eps_high). Paper: 0.2; DAPO uses 0.28."})
    loss_agg: str = field(default="token-mean", metadata={"help": (
        "'token-mean' (paper; TRL dapo, verl token-mean), 'seq-mean-token-mean' (original GRPO) or 'dr_grpo'.")})
    scale_rewards: bool = field(default=True, metadata={"help": "Divide advantages by the group std (off = Dr. GRPO)."})
    beta: float = field(default=0.0, metadata={"help": "k3 KL to the reference (initial senior) weight; 0 loads no reference. Paper: 0."})
    lambda_jun: float = field(default=0.0, metadata={"help": "KL toward the junior on junior-written positions. Paper: 0."})
