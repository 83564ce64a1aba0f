"""The periodic evaluation hook: the senior's solo accuracy on held-out problems (``eval_solo_acc``).

Held-out problems come from ``data.holdout`` (split off before training, never trained on). Decoding is greedy by
default (``train.eval_greedy``), else the eval section's temperature / top_p / top_k (paper: 0.7 / 0.8 / 20), with
the rollout's response budget. One sample per problem; the full pass@k protocols live in ``tandem_rl.eval``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tandem_rl.train.data_order import step_seed


def eval_rollout_config(cfg):
    """Solo decoding settings for the hook."""
    if cfg.train.eval_greedy:
        return dataclasses.replace(cfg.rollout, schedule="solo", temperature=0.0, top_p=1.0, top_k=0, p_end=None)
    return dataclasses.replace(cfg.rollout, schedule="solo", temperature=cfg.eval.temperature, top_p=cfg.eval.top_p,
                               top_k=cfg.eval.top_k, p_end=None)


def solo_accuracy(generator, grader, prompt_ids: list[list[int]], golds: list[str], cfg, *, step: int,
                  autocast) -> float:
    """Mean reward of one solo response per held-out problem (nan when there are none)."""
    if not prompt_ids:
        return float("nan")
    rc = eval_rollout_config(cfg)
    size = cfg.train.generation_batch_size or len(prompt_ids)
    texts = []
    tok = generator.tokenizer
    for c, start in enumerate(range(0, len(prompt_ids), size)):
        with autocast():
            out = generator.generate(prompt_ids[start:start + size], rc, seed=step_seed(cfg.train.seed, step, 2_000_000 + c))
        texts += [tok.decode(ids, skip_special_tokens=True) for ids in out.response_ids]
    results = grader.grade(texts, list(golds), answer_format=cfg.reward.answer_format)
    return float(np.mean([r.reward for r in results]))
