"""Atomic, resumable checkpoints.

Layout (``run/checkpoints/``)::

    step_000020/               an HF folder: config.json, model.safetensors, tokenizer files (from_pretrained works)
        trainer_state.pt       optimizer, RNG states, data position, step, counters (plain tensors/lists/dicts,
                               read with torch.load(weights_only=True))
    latest.txt                 "step_000020": the newest *complete* checkpoint

A checkpoint is written into a hidden temporary sibling (``.tmp-step_000020-xxxx``) and renamed into place only
when complete; ``latest.txt`` is replaced atomically after that. A kill at any moment therefore leaves either the
previous state or the new one, never a folder that looks complete but is not. Stale temporaries are removed on the
next save. Only the newest ``keep_last`` checkpoints are kept.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch

STATE_FILE = "trainer_state.pt"
LATEST = "latest.txt"


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

    ``state_dict``: the full weights when ``model`` holds only a shard of them (FSDP2; ``sharding.full_model_state``)."""
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
    _write_text_atomic(root / LATEST, name + "\n")
    if keep_last > 0:
        done = sorted(p for p in root.glob("step_*") if p.is_dir() and (p / STATE_FILE).exists())
        for old in done[:-keep_last]:
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | os.PathLike) -> Optional[Path]:
    """The checkpoint named in ``latest.txt`` (None when there is none). Errors if it names a missing folder."""
    root = Path(run_dir) / "checkpoints"
    marker = root / LATEST
    if not marker.exists():
        return None
    path = root / marker.read_text().strip()
    if not (path / STATE_FILE).exists():
        raise FileNotFoundError(f"{marker} names {path.name}, but {path / STATE_FILE} does not exist")
    return path


def load_trainer_state(path: str | os.PathLike) -> dict:
    return torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=True)
