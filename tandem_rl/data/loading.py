"""``load_problems(cfg) -> ProblemSet`` and the deterministic hold-out split.

    ps = load_problems(DataConfig(source="deepscaler", holdout=1000))   # hub, or data.recipe_dir offline
    train, held_out = split_holdout(ps.problems, n=1000, seed=0)

``data.source`` is read as: ``gym:<generator>`` (reasoning-gym), ``world:train`` / ``world:test`` (the embedded
world's shipped problems), ``olympiadbench:<file>`` / ``olympiadbench`` (a local published OlympiadBench file,
``olympiadbench.py``), a recipe name (``recipes.py``), an existing file or
folder, else a hub dataset name. Rows are validated (``validate.py``); then the problems are shuffled with
``data.shuffle_seed`` and cut to ``data.limit``. The hold-out split is left to the caller (``split_holdout``), so
that training and evaluation agree on it without loading twice.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path
from typing import Sequence

from tandem_rl.data import olympiadbench
from tandem_rl.data.config import DataConfig
from tandem_rl.data.gym import gym_problems
from tandem_rl.data.problem import DataError, Problem, ProblemSet, SkippedRow
from tandem_rl.data.readers import read_rows
from tandem_rl.data.recipes import RECIPES, Part, local_copy
from tandem_rl.data.validate import to_problems
from tandem_rl.world.assets import resolve


def _load_part(part: Part, cfg: DataConfig) -> tuple[list[Problem], list[SkippedRow]]:
    where = local_copy(cfg.recipe_dir, part) if cfg.recipe_dir else part.hub
    label = Path(where).name if cfg.recipe_dir else f"{part.hub} ({part.split or 'first split'})"
    excluded: list[SkippedRow] = []

    def kept_rows():
        for row, record in read_rows(where, part.split):
            if isinstance(record, dict) and part.answer is not None:
                value = record.get(part.answer)
                if part.drop_empty_answers and (value is None or str(value).strip() == ""):
                    excluded.append(SkippedRow(label, row, part.answer, "empty answer: excluded by the recipe"))
                    continue
                if isinstance(value, str) and value in part.exclude:
                    excluded.append(SkippedRow(label, row, part.answer,
                                               f"answer {value!r} excluded by the recipe (not gradable)"))
                    continue
            yield row, record

    problems, skipped = to_problems(kept_rows(), file=label, source=part.name, on_error=cfg.on_error,
                                    problem_column=part.problem, answer_column=part.answer)
    return problems, skipped + excluded


def _load_unshuffled(cfg: DataConfig) -> ProblemSet:
    source = cfg.source.strip()
    if not source:
        raise DataError("data.source is empty: give a file, folder, recipe name, gym:<generator> or hub name")
    if source.startswith("gym:"):
        return ProblemSet(gym_problems(source[4:], cfg.gym_size, cfg.gym_seed))
    if source.startswith("world:"):
        # The embedded world's shipped problem files (world:train, world:test); read like any other jsonl.
        problems, skipped = to_problems(read_rows(resolve(source), cfg.split), file=source, source=source,
                                        on_error=cfg.on_error, problem_column=cfg.problem_column,
                                        answer_column=cfg.answer_column)
        return ProblemSet(problems, skipped)
    olympiad = olympiadbench.source_path(source, cfg.recipe_dir)
    if olympiad is not None:
        return olympiadbench.load_olympiadbench(olympiad, on_error=cfg.on_error)
    if source in RECIPES:
        problems, skipped = [], []
        for part in RECIPES[source]:
            p, s = _load_part(part, cfg)
            problems += p
            skipped += s
        return ProblemSet(problems, skipped)
    if not Path(source).exists() and "/" not in source and "." not in source:
        raise DataError(f"data.source {source!r}: no such file or folder, recipe ({', '.join(sorted(RECIPES))}), "
                        "gym:<generator>, or hub dataset (owner/name)")
    label = Path(source).name if Path(source).exists() else source
    stem = Path(source).stem if Path(source).is_file() else label
    problems, skipped = to_problems(read_rows(source, cfg.split), file=label, source=stem, on_error=cfg.on_error,
                                    problem_column=cfg.problem_column, answer_column=cfg.answer_column)
    return ProblemSet(problems, skipped)


def load_problems(cfg: DataConfig) -> ProblemSet:
    """Every valid problem of ``cfg.source`` (shuffled by ``cfg.shuffle_seed``, cut to ``cfg.limit``) and the
    skipped rows. Raises ``DataError`` (file, row, field) on the first bad row when ``cfg.on_error == "raise"``."""
    ps = _load_unshuffled(cfg)
    if not ps.problems:
        raise DataError(f"data.source={cfg.source!r}: no usable problems ({len(ps.skipped)} rows skipped)")
    problems = list(ps.problems)
    random.Random(cfg.shuffle_seed).shuffle(problems)
    if cfg.limit is not None:
        problems = problems[:cfg.limit]
    return ProblemSet(problems, ps.skipped)


def _rank(seed: int, problem_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\0{problem_id}".encode()).digest()


def split_holdout(problems: Sequence[Problem], n: int, seed: int) -> tuple[list[Problem], list[Problem]]:
    """``(train, held_out)``: the ``n`` problems whose seeded hash of ``id`` is smallest are held out.

    Deterministic, and independent of the order of ``problems``: a problem lands on the same side however the file
    is sorted or shuffled. Both lists keep the input order.

    >>> ps = [Problem(str(i), "q", "a", "s") for i in range(10)]
    >>> train, held = split_holdout(ps, 3, seed=0)
    >>> len(train), len(held), set(p.id for p in held) == set(p.id for p in split_holdout(ps[::-1], 3, 0)[1])
    (7, 3, True)
    """
    if n < 0 or n > len(problems):
        raise ValueError(f"cannot hold out {n} of {len(problems)} problems")
    ids = [p.id for p in problems]
    dupes = sorted(i for i, c in Counter(ids).items() if c > 1)
    if dupes:
        raise DataError(f"split_holdout needs unique problem ids; duplicated: {dupes[:5]}")
    held_ids = set(sorted(ids, key=lambda i: _rank(seed, i))[:n])
    return [p for p in problems if p.id not in held_ids], [p for p in problems if p.id in held_ids]
