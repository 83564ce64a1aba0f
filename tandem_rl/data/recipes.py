"""The paper's data sets by name: where each lives on the hub and how its columns read.

Names, splits, columns and exclusions follow the authors' own build scripts (CSSLab/Tandem-RLVR,
``data/build_deepscaler.py`` and ``data/build_evals.py``), which produce the paper's training set and its
evaluation sets (Jiao et al., arXiv 2606.28166)::

    data.source: deepscaler     # 40,309 training problems (hold 1,000 out: data.holdout=1000)
    data.source: aime           # AIME 24 + 25 + 26 pooled (90)
    data.source: amc            # AMC 23 + 24 + 25 (121 after the exclusions below)
    data.source: minerva        # 272;  math500: 500;  or one part alone: aime24, amc25, ...

Offline, ``data.recipe_dir`` points at a folder of local copies, one per part, in the hub's own columns:
``<recipe_dir>/<part>.jsonl`` (or ``.parquet``/``.csv``, or a ``save_to_disk`` folder ``<recipe_dir>/<part>/``).
OlympiadBench (581) has no public source the authors could rebuild from, so there is no hub recipe for it: a local
copy in its published format is read by ``olympiadbench.py`` (``data.source: olympiadbench:<file>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tandem_rl.data.problem import DataError


@dataclass(frozen=True)
class Part:
    """One hub dataset: ``hub`` name, ``split`` (None = its first split), the problem column, the answer column
    (None = the boxed answer of ``solution``) and answers to exclude (ones a boxed-answer verifier cannot grade)."""

    name: str
    hub: str
    split: Optional[str]
    problem: str
    answer: Optional[str]
    exclude: frozenset = frozenset()
    drop_empty_answers: bool = False


# agentica-org/DeepScaleR-Preview-Dataset: columns problem/answer/solution, train split. The authors drop rows with
# an empty answer (such a row only adds a constant zero reward to its group) and expect 40,309 rows after that.
DEEPSCALER = Part("deepscaler", "agentica-org/DeepScaleR-Preview-Dataset", "train", "problem", "answer",
                  drop_empty_answers=True)
# math-ai/aime24 has no answer column: the gold is the boxed answer of its solution column (test split).
AIME24 = Part("aime24", "math-ai/aime24", "test", "problem", None)
AIME25 = Part("aime25", "math-ai/aime25", "test", "problem", "answer")
AIME26 = Part("aime26", "MathArena/aime_2026", None, "problem", "answer")
AMC23 = Part("amc23", "math-ai/amc23", "test", "question", "answer")
# The authors drop AMC answers their verifier cannot grade: a choice letter, intervals, a free variable, a time.
AMC24 = Part("amc24", "rawsh/2024_AMC12", None, "problem", "answer", frozenset({
    "(0, \\frac{1}{2})", "[\\frac{3}{4}, \\frac{7}{8}]", "\\frac{\\pi}{2} - 2\\alpha", "D"}))
AMC25 = Part("amc25", "sonthenguyen/amc12-2025-non-figure", None, "question", "answer", frozenset({"4{:}30", "k"}))
MATH500 = Part("math500", "HuggingFaceH4/MATH-500", "test", "problem", "answer")
MINERVA = Part("minerva", "math-ai/minervamath", "test", "question", "answer")

RECIPES: dict[str, tuple[Part, ...]] = {
    "deepscaler": (DEEPSCALER,),
    "aime": (AIME24, AIME25, AIME26),
    "amc": (AMC23, AMC24, AMC25),
    "minerva": (MINERVA,),
    "math500": (MATH500,),
    **{p.name: (p,) for p in (AIME24, AIME25, AIME26, AMC23, AMC24, AMC25)},
}


def local_copy(recipe_dir: str, part: Part) -> str:
    """The local file or folder standing in for ``part`` under ``recipe_dir``."""
    root = Path(recipe_dir)
    for candidate in (root / f"{part.name}.jsonl", root / f"{part.name}.parquet", root / f"{part.name}.csv",
                      root / part.name):
        if candidate.exists():
            return str(candidate)
    raise DataError(f"data.recipe_dir={recipe_dir}: no local copy of {part.name!r} ({part.hub}); expected "
                    f"{part.name}.jsonl, .parquet, .csv or a save_to_disk folder {part.name}/")
