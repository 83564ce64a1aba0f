"""The one documented config: sections composed from each package's own dataclass.

YAML files hold any subset of the sections; ``key=value`` overrides on the command line win. The resolved config is
saved in the run folder. ``tandem-rl config`` prints every field with its help text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.config_io import load_config as _load, save_config  # noqa: F401  (re-exported)
from tandem_rl.data.config import DataConfig
from tandem_rl.eval.config import EvalConfig
from tandem_rl.grpo.config import GRPOConfig
from tandem_rl.rewards.config import RewardConfig
from tandem_rl.train.config import TrainConfig


@dataclass
class ModelConfig:
    senior: str = field(default="", metadata={"help": (
        "Senior (trained) model: a local folder or hub name loadable by AutoModelForCausalLM. 'world:senior' = the "
        "embedded demo senior. Paper: Qwen3-4B-Instruct-2507.")})
    junior: Optional[str] = field(default=None, metadata={"help": (
        "Frozen junior: folder or hub name; null = a frozen copy of the senior's initial weights ('self-paired', "
        "as in the paper). 'world:junior' = the embedded demo junior.")})
    tokenizer: Optional[str] = field(default=None, metadata={"help": "Tokenizer folder/name; null = the senior's."})
    dtype: str = field(default="float32", metadata={"help": "Model dtype: float32 or bfloat16 (weights and compute)."})
    device: str = field(default="auto", metadata={"help": "'auto' (cuda if available, else cpu), 'cpu', 'cuda', 'cuda:1'."})
    junior_device: Optional[str] = field(default=None, metadata={"help": "Junior device; null = the senior's."})
    junior_dtype: Optional[str] = field(default=None, metadata={"help": (
        "Junior dtype (float32 or bfloat16); null = model.dtype. A frozen model needs no fp32 master weights: "
        "bfloat16 halves its memory (8 GB instead of 16 for a 4B junior). With a self-paired junior it is also "
        "the reference's dtype (one frozen copy serves both).")})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Trade compute for memory in the senior's backward pass."})


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def load_config(path=None, overrides=None) -> Config:
    """``load_config("configs/demo.yaml", ["train.steps=10"])`` -> Config."""
    return _load(Config, path, overrides)
