"""Config checks a training run needs, with errors that name the field (run before anything is loaded).

>>> from tandem_rl.config import Config
>>> c = Config(); c.model.senior = "x"; c.rollout.temperature = 0.0
>>> try:
...     check_config(c)
... except ValueError as e:
...     print(e)
rollout.temperature must be > 0 for training (the policy log-prob is log_softmax(logits / T)), got 0.0
"""

from __future__ import annotations

from tandem_rl.cogen import schedules
from tandem_rl.models import DTYPES


def check_config(cfg) -> None:
    cfg.grpo.validate()
    cfg.train.validate()
    cfg.rollout.validate()
    r = cfg.rollout
    if not cfg.model.senior:
        raise ValueError("model.senior is empty: set it to a model folder, hub name or world:senior")
    if not schedules.get(r.schedule).senior_runs:
        raise ValueError(f"rollout.schedule {r.schedule!r} writes no senior token, so nothing can be trained; use "
                         f"word (tandem) or solo (vanilla GRPO)")
    if cfg.train.eval_schedule not in schedules.SCHEDULES:
        raise ValueError(f"train.eval_schedule {cfg.train.eval_schedule!r} is not one of {tuple(schedules.SCHEDULES)}")
    if not schedules.get(cfg.train.eval_schedule).senior_runs:
        raise ValueError(f"train.eval_schedule {cfg.train.eval_schedule!r} writes no senior token: validate with "
                         f"solo or a handoff schedule (paragraph, word, ...)")
    if not r.temperature > 0:
        raise ValueError("rollout.temperature must be > 0 for training (the policy log-prob is "
                         f"log_softmax(logits / T)), got {r.temperature}")
    if cfg.grpo.group_size < 2:
        raise ValueError("grpo.group_size must be >= 2: a group of one has no baseline (every advantage is 0)")
    for key in ("dtype", "junior_dtype"):
        value = getattr(cfg.model, key)
        if value is not None and value not in DTYPES:
            raise ValueError(f"model.{key} {value!r} is not one of float32, bfloat16, float16")
