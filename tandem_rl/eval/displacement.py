"""Token displacement: where RL moved the senior's top token away from the base, does tandem training move it back?

On texts that all three models read (teacher-forced, see ``teacher_forcing.score_texts``), at each position take
every model's top (argmax) token. A position is *displaced* when the GRPO senior's top token differs from the base's;
a displaced position *returns* when the tandem senior's top token equals the base's there. The reported share is
``returned / displaced``, pooled over the tokens of a benchmark (Jiao et al. 2026 report 87%; their exact definition
was not published, this is our reading).

Worked example (one text, five positions)::

    base   = [3, 4, 5, 6, 7]
    grpo   = [3, 9, 9, 6, 1]      # displaced at positions 1, 2, 4
    tandem = [3, 4, 8, 6, 7]      # back to base at 1 and 4, elsewhere at 2
    displacement_counts(base, grpo, tandem) == Displacement(positions=5, displaced=3, returned=2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Displacement:
    positions: int
    displaced: int
    returned: int

    @property
    def share(self) -> float:
        return self.returned / self.displaced if self.displaced else float("nan")


def displacement_counts(base_top, grpo_top, tandem_top) -> Displacement:
    """Count displaced positions (GRPO top != base top) and those where the tandem top equals the base top."""
    base_top, grpo_top, tandem_top = (np.asarray(x) for x in (base_top, grpo_top, tandem_top))
    if not (base_top.shape == grpo_top.shape == tandem_top.shape):
        raise ValueError(f"displacement_counts: shapes differ {base_top.shape}, {grpo_top.shape}, {tandem_top.shape}")
    displaced = grpo_top != base_top
    return Displacement(positions=int(base_top.size), displaced=int(displaced.sum()),
                        returned=int((displaced & (tandem_top == base_top)).sum()))
