"""GRPO loss settings (Shao et al. 2024; the paper keeps them unchanged between GRPO and tandem).

Option names follow the mature frameworks so users can map them: ``loss_agg`` values are verl's ``loss_agg_mode``
names (TRL calls them ``loss_type`` = dapo / grpo / dr_grpo), ``clip_eps_low/high`` are verl's
``clip_ratio_low/high`` (TRL ``epsilon``/``epsilon_high``), ``scale_rewards`` is TRL's option of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

LOSS_AGGS = ("token-mean", "seq-mean-token-mean", "dr_grpo")


@dataclass
class GRPOConfig:
    group_size: int = field(default=8, metadata={"help": "G: rollouts per prompt. Paper: 8 (a G = 16 ablation exists)."})
    clip_eps_low: float = field(default=0.2, metadata={"help": "PPO clip below (1 - eps_low). Paper: 0.2."})
    clip_eps_high: float = field(default=0.2, metadata={"help": "PPO clip above (1 + eps_high). Paper: 0.2; DAPO uses 0.28."})
    loss_agg: str = field(default="token-mean", metadata={"help": (
        "'token-mean' (the paper's mode; TRL dapo, verl token-mean: every masked-in token of the mini-batch weighs "
        "the same, across micro-batches and ranks; the paper's verl 0.5 averaged per micro-batch instead, "
        "docs/reproduce.md), 'seq-mean-token-mean' (original GRPO; TRL grpo) or 'dr_grpo' (Liu et al. "
        "2025: sum / (sequences x rollout.max_new_tokens); verl seq-mean-token-sum-norm).")})
    scale_rewards: bool = field(default=True, metadata={"help": (
        "Divide advantages by the group reward std (GRPO, paper). Off = Dr. GRPO (Liu et al. 2025).")})
    adv_eps: float = field(default=1e-6, metadata={"help": "A = (R - mean) / (std + adv_eps). Paper: 1e-6."})
    beta: float = field(default=0.0, metadata={"help": (
        "Weight of the k3 KL estimate to the reference (= the initial senior) on senior tokens; 0 loads no "
        "reference. Paper: 0; its KL-to-base ablation uses 0.001.")})
    lambda_jun: float = field(default=0.0, metadata={"help": (
        "Weight of a KL pull toward the junior on junior-written positions (k3 estimate of KL(junior || senior) "
        "from the junior's recorded sampling log-probs; no junior forward pass). Paper: defined, set to 0.")})
    dual_clip: float = field(default=0.0, metadata={"help": (
        "Dual-clip PPO (Ye et al. 2020; verl clip_ratio_c): for tokens with a negative advantage the loss is capped "
        "at -dual_clip x A. 0 = off (default; TRL has none). The authors' verl 0.5 applies 3.0; the paper recipe "
        "sets 3.0.")})
    junior_weight: float = field(default=0.0, metadata={"help": (
        "Put junior-written tokens into the clipped surrogate with this weight (senior tokens weigh 1; the "
        "gradient goes through the senior's log-prob of the junior's token; token-mean divides by senior tokens + "
        "weight x junior tokens). The authors' tandem_jr_tkn_weight; 0 (off) in the paper's runs and here. Unlike "
        "lambda_jun, which is a KL pull, this is a policy-gradient term.")})
    solo_mix: float = field(default=0.0, metadata={"help": (
        "Trade-off knob (off by default): this fraction of each group (rounded to whole rollouts) is rolled out by "
        "the senior alone (schedule solo). They are ordinary members of the group baseline. Not in the paper.")})
    senior_answer_only: bool = field(default=False, metadata={"help": (
        "Answer-authorship guard (off by default; not in the paper): a rollout is credited only when the senior "
        "wrote its graded (last boxed) answer entirely; a correct answer the junior wrote, or co-wrote, gets reward "
        "0 before the advantages, so the senior cannot lean on the junior for the answer. Logged: "
        "answer_guard_zeroed (rollouts zeroed per step); answer_by_* count who wrote the answers.")})
    step_checker: Optional[str] = field(default=None, metadata={"help": (
        "'module:function' locating the first error of a response (steps and answer with their character spans, "
        "as tandem_rl.world.steps:check_steps does; docs/evaluation.md \"Error anatomy\"): needed by the two "
        "credit options below, and logs who wrote the first error of failed training rollouts (first_error_by_*).")})
    skip_junior_errors: bool = field(default=False, metadata={"help": (
        "Credit design (off by default; not in the paper; needs grpo.step_checker): a failed rollout whose first "
        "error the junior wrote trains none of its senior tokens (they stay in the group baseline), so the senior "
        "is not blamed for its partner's mistake. Logged: credit_rows_skipped. docs/sweep.md.")})
    credit_from_first_error: bool = field(default=False, metadata={"help": (
        "Credit design (off by default; not in the paper; needs grpo.step_checker): in a failed rollout the senior "
        "tokens written before its first error get no (negative) credit; the error and what follows keep it. "
        "Correct steps are then only ever reinforced. Logged: credit_tokens_zeroed. docs/sweep.md.")})

    def validate(self) -> None:
        if self.group_size < 1:
            raise ValueError(f"grpo.group_size must be >= 1, got {self.group_size}")
        if not 0.0 <= self.clip_eps_low < 1.0:
            raise ValueError(f"grpo.clip_eps_low must be in [0, 1), got {self.clip_eps_low}")
        if self.clip_eps_high < 0.0:
            raise ValueError(f"grpo.clip_eps_high must be >= 0, got {self.clip_eps_high}")
        if self.loss_agg not in LOSS_AGGS:
            raise ValueError(f"grpo.loss_agg {self.loss_agg!r} is not one of {LOSS_AGGS}")
        if self.adv_eps <= 0:
            raise ValueError(f"grpo.adv_eps must be > 0, got {self.adv_eps}")
        if self.beta < 0 or self.lambda_jun < 0:
            raise ValueError(f"grpo.beta and grpo.lambda_jun must be >= 0, got {self.beta}, {self.lambda_jun}")
        if self.dual_clip != 0.0 and not self.dual_clip > 1.0:
            raise ValueError(f"grpo.dual_clip must be 0 (off) or > 1, got {self.dual_clip}")
        if self.junior_weight < 0:
            raise ValueError(f"grpo.junior_weight must be >= 0, got {self.junior_weight}")
        if not 0.0 <= self.solo_mix <= 1.0:
            raise ValueError(f"grpo.solo_mix must be in [0, 1], got {self.solo_mix}")
        if self.step_checker is not None and not re.fullmatch(r"[\w.]+:\w+", self.step_checker):
            raise ValueError(f"grpo.step_checker {self.step_checker!r} must look like 'package.module:function'")
        if (self.skip_junior_errors or self.credit_from_first_error) and not self.step_checker:
            raise ValueError("grpo.skip_junior_errors / grpo.credit_from_first_error need grpo.step_checker (e.g. "
                             "'tandem_rl.world.steps:check_steps'): they locate each failed rollout's first error")
