"""Problems from ``reasoning-gym`` generators, fully offline: ``data.source: gym:<generator>``.

    gym_problems("gsm_symbolic", size=3, seed=0)[0]
    # Problem(id='gym:gsm_symbolic:0:0', problem='...', answer='288', source='gym:gsm_symbolic', meta={...})

The gold is ``entry["answer"]``; generators are seeded, so the same (name, size, seed) gives the same problems.
GSM8K-style worked solutions (``metadata["answer_cot"]``, ending in ``#### N``) are kept in ``meta`` when present.
"""

from __future__ import annotations

from tandem_rl.data.problem import DataError, Problem


def gym_problems(name: str, size: int, seed: int) -> list[Problem]:
    """``size`` problems from the reasoning-gym generator ``name`` (e.g. gsm_symbolic, basic_arithmetic)."""
    try:
        import reasoning_gym
    except ImportError as e:
        raise DataError("data.source gym:... needs reasoning-gym (pip install 'tandem-rl[gym]')") from e
    try:
        dataset = reasoning_gym.create_dataset(name, size=size, seed=seed)
    except Exception as e:  # unknown name or bad arguments
        raise DataError(f"reasoning-gym could not create {name!r} (size={size}, seed={seed}): {e}") from e
    out = []
    for i, entry in enumerate(dataset):
        meta = {"row": i + 1}
        cot = (entry.get("metadata") or {}).get("answer_cot")
        if isinstance(cot, str):
            meta["answer_cot"] = cot
        answer = str(entry["answer"]).strip()
        if not answer or not str(entry["question"]).strip():
            raise DataError(f"gym:{name}, row {i + 1}: empty question or answer")
        out.append(Problem(f"gym:{name}:{seed}:{i}", str(entry["question"]), answer, f"gym:{name}", meta))
    return out
