"""One step's rollouts: G responses per prompt from the engine, graded.

Rows are laid out group by group: rows ``[g*G, (g+1)*G)`` answer prompt ``g``. The whole batch goes through
``CoGenerator.generate`` with the config's rollout settings; the schedule (``word`` for tandem, ``solo`` for vanilla
GRPO) is the only thing that differs between the two methods, and this module never reads it.

``grpo.senior_answer_only`` (off by default): after grading, a rollout whose graded answer was not written by
the senior alone (``RewardResult.answer_author`` is "junior", "mixed" or None) gets reward 0; ``results`` keep the
grader's own rewards, so ``metrics.rollout_metrics`` can count what the guard zeroed.

``grpo.solo_mix`` (off by default): the last ``round(solo_mix * G)`` members of every group are rolled out by the
senior alone, in a second engine call with ``schedule="solo"``. They are ordinary members of the group: they share
its reward baseline and their senior tokens are trained like any other.

``reward.reject_regex`` (off by default; ``rewards/config.py``): after grading (and the answer guard), a rollout
whose response text matches the regex gets reward 0; ``results`` keep the grader's own rewards here too, and
``reject_counts`` says how many rollouts matched and how many rewards that zeroed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from tandem_rl.cogen.rollouts import Rollouts
from tandem_rl.cogen.char_authorship import response_texts
from tandem_rl.train.data_order import step_seed


@dataclass
class StepRollouts:
    rollouts: Rollouts        # G rows per prompt, group by group
    problem_index: list[int]  # per group: index into the training set
    solo_row: np.ndarray      # per row: True when written by the senior alone through solo_mix
    texts: list[str]          # decoded responses (what was graded)
    results: list             # per row: RewardResult
    rewards: np.ndarray       # per row: float
    gen_seconds: float
    grade_seconds: float
    credit: list | None = None  # per row, credit per response token (``train/credit.py``); None = all 1
    # integer metrics of the step, summed over ranks: ``CreditCounts.as_metrics()`` when a step checker is
    # configured, ``reject_counts`` when reward.reject_regex is set (train/metrics.py adds them to the row)
    credit_counts: dict | None = None


def solo_members(group_size: int, solo_mix: float) -> int:
    """How many members of each group solo_mix gives to the senior alone (``round`` to whole rollouts)."""
    return int(round(solo_mix * group_size))


def _generate(generator, prompts, rollout_cfg, seed_base, step, salt0, batch_size, autocast, progress,
              per_group: int = 1, group_pos=None) -> Rollouts:
    """Engine calls of ``batch_size`` rows. Call c's seed is salted by the *step-wide* index of its first row
    (``group_pos`` maps local groups to their place in the step), so a data-parallel rank draws the same samples
    for its rows as a single process would whenever ``batch_size`` divides a rank's slice of a mini-batch."""
    size = batch_size or len(prompts)
    parts = []
    for start in range(0, len(prompts), size):
        row = start if group_pos is None else group_pos[start // per_group] * per_group + start % per_group
        with autocast():
            parts.append(generator.generate(prompts[start:start + size], rollout_cfg,
                                            seed=step_seed(seed_base, step, salt0 + row // size), progress=progress))
    return parts[0] if len(parts) == 1 else Rollouts.concat(parts)


def join_ranks(parts: list["StepRollouts"], positions: list[list[int]], group_size: int) -> "StepRollouts":
    """All ranks' StepRollouts as one, in the step's group order (``positions[r]``: rank r's group positions).

    >>> import numpy as np
    >>> ro = lambda ids: Rollouts([[1]] * len(ids), [[i] for i in ids], [np.ones(1, np.uint8)] * len(ids),
    ...                           [np.zeros(1, np.float32)] * len(ids), [np.zeros(1, np.float32)] * len(ids),
    ...                           ["eos"] * len(ids))
    >>> sr = lambda ids, g: StepRollouts(ro(ids), g, np.zeros(len(ids), bool), [str(i) for i in ids],
    ...                                  list(ids), np.array(ids, float), 1.0, 2.0)
    >>> both = join_ranks([sr([0, 1, 4, 5], [10, 14]), sr([2, 3, 6, 7], [12, 16])], [[0, 2], [1, 3]], 2)
    >>> both.texts, both.problem_index
    (['0', '1', '2', '3', '4', '5', '6', '7'], [10, 12, 14, 16])
    """
    if len(parts) == 1:
        return parts[0]
    slot = {}  # step-wide group position -> (rank, local group)
    for r, pos in enumerate(positions):
        for j, p in enumerate(pos):
            slot[p] = (r, j)
    base = np.cumsum([0] + [len(p.rollouts) for p in parts])
    order, problems = [], []
    for p in range(len(slot)):
        r, j = slot[p]
        order += [int(base[r]) + j * group_size + k for k in range(group_size)]
        problems.append(parts[r].problem_index[j])
    texts = [t for p in parts for t in p.texts]
    results = [x for p in parts for x in p.results]
    credit = [c for p in parts for c in p.credit] if parts[0].credit is not None else None
    counts = ({k: sum(p.credit_counts[k] for p in parts) for k in parts[0].credit_counts}
              if parts[0].credit_counts is not None else None)
    return StepRollouts(rollouts=Rollouts.concat([p.rollouts for p in parts]).select(order), problem_index=problems,
                        solo_row=np.concatenate([p.solo_row for p in parts])[order], texts=[texts[i] for i in order],
                        results=[results[i] for i in order],
                        rewards=np.concatenate([p.rewards for p in parts])[order],
                        gen_seconds=max(p.gen_seconds for p in parts),
                        grade_seconds=max(p.grade_seconds for p in parts),
                        credit=[credit[i] for i in order] if credit is not None else None, credit_counts=counts)


def answer_guard(results) -> np.ndarray:
    """Rewards with every rollout whose graded answer the senior did not write alone set to 0.

    >>> from types import SimpleNamespace as R
    >>> answer_guard([R(reward=1.0, answer_author="senior"), R(reward=1.0, answer_author="junior"),
    ...               R(reward=1.0, answer_author="mixed"), R(reward=0.0, answer_author=None)]).tolist()
    [1.0, 0.0, 0.0, 0.0]
    """
    return np.array([r.reward if r.answer_author == "senior" else 0.0 for r in results], dtype=np.float64)


def reject_counts(reward_cfg, texts: list[str], rewards: np.ndarray) -> dict | None:
    """``reward.reject_regex``: set to 0, in place, the reward of every rollout whose text matches it; returns
    ``{"reject_regex_matched": rollouts that matched, "reject_regex_zeroed": those of them that had a reward}``,
    or None when the option is off (then nothing is read or changed, so default runs are untouched).

    >>> from tandem_rl.rewards.config import RewardConfig
    >>> r = np.array([1.0, 1.0, 0.0])
    >>> reject_counts(RewardConfig(reject_regex="<<"), [" 2 plus 1 is 3 .", " <<2+1=3>>", " <<2+1=4>>"], r), r
    ({'reject_regex_matched': 2, 'reject_regex_zeroed': 1}, array([1., 0., 0.]))
    """
    if reward_cfg.reject_regex is None:
        return None
    hit = np.array(reward_cfg.rejected(texts), dtype=bool)
    zeroed = int((hit & (rewards > 0)).sum())
    rewards[hit] = 0.0
    return {"reject_regex_matched": int(hit.sum()), "reject_regex_zeroed": zeroed}


def collect(generator, grader, tokenizer, prompt_ids: list[list[int]], golds: list[str], problem_index: list[int],
            cfg, *, step: int, rollout_cfg, autocast, progress: bool = False,
            group_pos: list[int] | None = None, credit=None) -> StepRollouts:
    """Roll out ``cfg.grpo.group_size`` responses for each prompt and grade them with ``grader`` (a ``GraderPool``,
    or anything with its ``grade``).

    ``group_pos``: the prompts' positions within the step (a rank holds only some of them; they salt the seeds).
    ``credit``: a ``train.credit.Credit`` (grpo.step_checker set): per-token credit and first-error counts."""
    g = cfg.grpo.group_size
    n_solo = solo_members(g, cfg.grpo.solo_mix)
    n_main = g - n_solo
    t0 = time.perf_counter()
    main_prompts = [p for p in prompt_ids for _ in range(n_main)]
    parts = []
    if main_prompts:
        parts.append(_generate(generator, main_prompts, rollout_cfg, cfg.train.seed, step, 0,
                               cfg.train.generation_batch_size, autocast, progress, n_main, group_pos))
    if n_solo:
        solo_cfg = dataclasses.replace(rollout_cfg, schedule="solo")
        solo_prompts = [p for p in prompt_ids for _ in range(n_solo)]
        parts.append(_generate(generator, solo_prompts, solo_cfg, cfg.train.seed, step, 1_000_000,
                               cfg.train.generation_batch_size, autocast, progress, n_solo, group_pos))
    joined = parts[0] if len(parts) == 1 else Rollouts.concat(parts)
    # back to group order: prompt k's main members, then its solo members
    order, solo = [], []
    for k in range(len(prompt_ids)):
        order += [k * n_main + j for j in range(n_main)]
        order += [len(main_prompts) + k * n_solo + j for j in range(n_solo)]
        solo += [False] * n_main + [True] * n_solo
    rollouts = joined if order == list(range(len(joined))) else joined.select(order)
    gen_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    decoded = response_texts(tokenizer, rollouts)  # per character (kept by the engine across tokenizers)
    texts, authors = [t for t, _ in decoded], [w for _, w in decoded]
    row_golds = [golds[k] for k in range(len(prompt_ids)) for _ in range(g)]
    results = grader.grade(texts, row_golds, answer_format=cfg.reward.answer_format, char_authors=authors)
    rewards = answer_guard(results) if cfg.grpo.senior_answer_only else np.array([r.reward for r in results],
                                                                                  dtype=np.float64)
    rejected = reject_counts(cfg.reward, texts, rewards)  # reward.reject_regex: zeroes ``rewards`` in place
    # failed = by the grader's own reward (a correct rollout the answer guard zeroed has no error to locate)
    weights = credit.weights(tokenizer, rollouts, texts, authors, [r.reward for r in results]) if credit else None
    return StepRollouts(rollouts=rollouts, problem_index=list(problem_index), solo_row=np.array(solo, dtype=bool),
                        texts=texts, results=list(results), rewards=rewards, gen_seconds=gen_seconds,
                        grade_seconds=time.perf_counter() - t1, credit=weights,
                        credit_counts=_merged(credit.counts.as_metrics() if credit is not None and credit.checker
                                              else None, rejected))


def _merged(a: dict | None, b: dict | None) -> dict | None:
    return a if b is None else b if a is None else {**a, **b}
