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

SCHEDULES = ("solo", "junior", "word", "token", "paragraph", "chunk")


def check_config(cfg) -> None:
    cfg.grpo.validate()
    cfg.train.validate()
    r = cfg.rollout
    if not cfg.model.senior:
        raise ValueError("model.senior is empty: set it to a model folder, hub name or world:senior")
    if r.schedule == "junior":
        raise ValueError("rollout.schedule 'junior' writes no senior token, so nothing can be trained; use word "
                         "(tandem) or solo (vanilla GRPO)")
    if r.schedule not in SCHEDULES:
        raise ValueError(f"rollout.schedule {r.schedule!r} is not one of {SCHEDULES}")
    if not r.temperature > 0:
        raise ValueError("rollout.temperature must be > 0 for training (the policy log-prob is "
                         f"log_softmax(logits / T)), got {r.temperature}")
    for name in ("p", "p_end"):
        v = getattr(r, name)
        if v is not None and not 0.0 <= v <= 1.0:
            raise ValueError(f"rollout.{name} must be in [0, 1], got {v}")
    if r.max_new_tokens < 1:
        raise ValueError(f"rollout.max_new_tokens must be >= 1, got {r.max_new_tokens}")
    if cfg.grpo.group_size < 2:
        raise ValueError("grpo.group_size must be >= 2: a group of one has no baseline (every advantage is 0)")
    for key in ("dtype", "junior_dtype"):
        value = getattr(cfg.model, key)
        if value is not None and value not in ("float32", "fp32", "bfloat16", "bf16", "float16", "fp16"):
            raise ValueError(f"model.{key} {value!r} is not one of float32, bfloat16, float16")
