"""Atomic, resumable checkpoints.

Layout (``run/checkpoints/``)::

    step_000020/               an HF folder: config.json, model.safetensors, tokenizer files (from_pretrained works)
        trainer_state.pt       optimizer, RNG states, data position, step, counters (plain tensors/lists/dicts,
                               read with torch.load(weights_only=True))
    latest.txt                 "step_000020": the newest *complete* checkpoint
    best/                      with train.best_metric: an HF folder of the best-validated weights so far, and
        best.json              {"step": 120, "checkpoint": "step_000120", "metric": "eval_pass@4", "value": 0.55}

A checkpoint is written into a hidden temporary sibling (``.tmp-step_000020-xxxx``) and renamed into place only
when complete; ``latest.txt`` is replaced atomically after that. A kill at any moment therefore leaves either the
previous state or the new one, never a folder that looks complete but is not. Stale temporaries are removed on the
next save. Only the newest ``keep_last`` checkpoints are kept; ``best/`` is not a ``step_*`` folder and is never
pruned (the paper reports each arm at its best validation step: tandem 120, GRPO 200).

``resolve_named(run, "best")`` / ``resolve_named(run, "step_000120")`` / ``resolve_named(run, "latest")`` give a
checkpoint folder of a run, with an error that lists what the run holds when the name is missing.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch

STATE_FILE = "trainer_state.pt"
LATEST = "latest.txt"
BEST = "best"
BEST_RECORD = "best.json"


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def rng_state() -> dict:
    """RNG states of python, numpy and torch (and CUDA when present) as plain types."""
    py = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {"python": [py[0], list(py[1]), py[2]],
             "numpy": [np_name, np_keys.tolist(), int(np_pos), int(np_has_gauss), float(np_gauss)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_name(step: int) -> str:
    return f"step_{step:06d}"


def save_checkpoint(run_dir: str | os.PathLike, step: int, model, tokenizer, state: dict, keep_last: int = 0,
                    state_dict: Optional[dict] = None) -> Path:
    """Write ``checkpoints/step_NNNNNN`` atomically, point ``latest.txt`` at it, prune old ones. Returns its path.

    ``state_dict``: the full weights when ``model`` holds only a shard of them (``backend.model_state``)."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    name = checkpoint_name(step)
    final = root / name
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{name}-"))
    try:
        model.save_pretrained(tmp, safe_serialization=True, **({"state_dict": state_dict} if state_dict else {}))
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        torch.save(state, tmp / STATE_FILE)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _write_text_atomic(latest_marker(run_dir), name + "\n")
    if keep_last > 0:
        done = sorted(p for p in root.glob("step_*") if p.is_dir() and (p / STATE_FILE).exists())
        for old in done[:-keep_last]:
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
    return final


def latest_marker(run_dir: str | os.PathLike) -> Path:
    """``run_dir/checkpoints/latest.txt``: it exists once a run has saved a complete checkpoint."""
    return Path(run_dir) / "checkpoints" / LATEST


def latest_checkpoint(run_dir: str | os.PathLike) -> Optional[Path]:
    """The checkpoint named in ``latest.txt`` (None when there is none). Errors if it names a missing folder."""
    marker = latest_marker(run_dir)
    if not marker.exists():
        return None
    path = marker.parent / marker.read_text().strip()
    if not (path / STATE_FILE).exists():
        raise FileNotFoundError(f"{marker} names {path.name}, but {path / STATE_FILE} does not exist")
    return path


def load_trainer_state(path: str | os.PathLike) -> dict:
    return torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=True)


def best_record(run_dir: str | os.PathLike) -> Optional[dict]:
    """``checkpoints/best/best.json`` (None when the run keeps no best yet). Finishes an interrupted replacement."""
    root = Path(run_dir) / "checkpoints"
    best = root / BEST
    if not (best / BEST_RECORD).exists():
        # a kill between moving the old best aside and moving the new one in: the old one is still complete
        aside = [p for p in root.glob(f".old-{BEST}-*") if (p / BEST_RECORD).exists()]
        if aside:
            os.replace(aside[0], best)
        else:
            return None
    return json.loads((best / BEST_RECORD).read_text())


def improves(value: float, record: Optional[dict], metric: str) -> bool:
    """Whether ``value`` of ``metric`` beats the kept best (higher is better; a tie keeps the earlier step).

    >>> improves(0.5, None, "eval_pass@4"), improves(0.5, {"metric": "eval_pass@4", "value": 0.5}, "eval_pass@4")
    (True, False)
    >>> improves(float("nan"), None, "eval_pass@4")
    False
    """
    if not math.isfinite(value):
        return False
    if record is None:
        return True
    if record["metric"] != metric:
        raise ValueError(f"checkpoints/best was chosen by {record['metric']!r} but train.best_metric is {metric!r}: "
                         "keep the run's metric, or move checkpoints/best away first")
    return value > record["value"]


def save_best(run_dir: str | os.PathLike, step: int, model, tokenizer, *, metric: str, value: float,
              state_dict: Optional[dict] = None) -> Path:
    """Write the current weights as ``checkpoints/best`` (HF folder + ``best.json``), replacing the previous best.

    The new folder is complete before it is moved in; the old one is moved aside first and removed last, so a kill
    leaves a complete best (``best_record`` finishes the swap)."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{BEST}-"))
    final, aside = root / BEST, None
    try:
        model.save_pretrained(tmp, safe_serialization=True, **({"state_dict": state_dict} if state_dict else {}))
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        record = {"step": step, "checkpoint": checkpoint_name(step), "metric": metric, "value": value}
        (tmp / BEST_RECORD).write_text(json.dumps(record) + "\n")
        if final.exists():
            aside = Path(tempfile.mkdtemp(dir=root, prefix=f".old-{BEST}-"))
            os.replace(final, aside)  # onto the empty folder mkdtemp made: a unique name, one rename
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in root.glob(f".old-{BEST}-*"):
        shutil.rmtree(old, ignore_errors=True)
    return final


def split_named(spec: str) -> tuple[str, Optional[str]]:
    """``"runs/a@best"`` -> ``("runs/a", "best")``; ``"runs/a@step_000120"`` -> ``("runs/a", "step_000120")``;
    anything without such a tail -> ``(spec, None)``.

    >>> split_named("runs/a@step_000120"), split_named("runs/a"), split_named("me@host/x")
    (('runs/a', 'step_000120'), ('runs/a', None), ('me@host/x', None))
    """
    run, sep, name = spec.rpartition("@")
    if sep and run and (name in (BEST, "latest") or name.startswith("step_")):
        return run, name
    return spec, None


def available(run_dir: str | os.PathLike) -> list[str]:
    """The names a run's checkpoints can be asked for: complete ``step_*`` folders, then ``best`` if kept."""
    root = Path(run_dir) / "checkpoints"
    names = sorted(p.name for p in root.glob("step_*") if p.is_dir() and (p / STATE_FILE).exists())
    return names + ([BEST] if best_record(run_dir) is not None else [])


def resolve_named(run_dir: str | os.PathLike, name: str) -> Path:
    """The checkpoint folder ``name`` (``best``, ``latest`` or ``step_NNNNNN``) of a run; errors say what exists."""
    run = Path(run_dir)
    if not (run / "checkpoints").is_dir():
        raise FileNotFoundError(f"{run}@{name}: {run} is not a training run folder (no checkpoints/ in it)")
    have = ", ".join(available(run)) or "none"
    if name == BEST:
        if best_record(run) is None:
            raise FileNotFoundError(f"{run}@best: the run keeps no best checkpoint (checkpoints/best/best.json); "
                                    f"train with train.best_metric and train.eval_every set. It has: {have}")
        return run / "checkpoints" / BEST
    if name == "latest":
        path = latest_checkpoint(run)
        if path is None:
            raise FileNotFoundError(f"{run}@latest: no complete checkpoint yet ({LATEST} missing)")
        return path
    if not re.match(r"^step_\d{6}$", name):
        raise ValueError(f"{run}@{name}: expected RUN@best, RUN@latest or RUN@step_NNNNNN (6 digits, e.g. "
                         f"step_000120)")
    path = run / "checkpoints" / name
    if not (path / STATE_FILE).exists():
        best = best_record(run)
        hint = (f"; {name} is the kept best: use {run}@best" if best and best["checkpoint"] == name
                else "; older steps are removed by train.keep_last (0 keeps all)")
        raise FileNotFoundError(f"{run}@{name}: no such complete checkpoint. It has: {have}{hint}")
    return path
