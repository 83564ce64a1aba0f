"""Atomic, resumable checkpoints.

Layout (``run/checkpoints/``)::

    step_000020/               an HF folder: config.json, model.safetensors, tokenizer files (from_pretrained works)
        trainer_state.pt       optimizer, RNG states, data position, step, counters (plain tensors/lists/dicts,
                               read with torch.load(weights_only=True))
        checksums.json         sha256 and size of every other file, written last
    latest.txt                 "step_000020": the newest *complete* checkpoint
    best/                      with train.best_metric: an HF folder of the best-validated weights so far, and
        best.json              {"step": 120, "checkpoint": "step_000120", "metric": "eval_pass@4", "value": 0.55}

A checkpoint is written into a hidden temporary sibling (``.tmp-step_000020-xxxx``) and renamed into place only
when complete; ``latest.txt`` is replaced atomically after that. A kill at any moment therefore leaves either the
previous state or the new one, never a folder that looks complete but is not. Every file and the folder are fsynced
before the rename (and the parent after it), so the same holds after a power loss. Stale temporaries are removed on
the next save. Only the newest ``keep_last`` checkpoints are kept: an old one is first renamed to ``.trash-*`` and
then deleted, so a kill mid-delete never leaves a ``step_*`` folder missing its weights. ``best/`` is not a
``step_*`` folder and is never pruned (the paper reports each arm at its best validation step: tandem 120, GRPO 200).

Resuming (``resume_point``) checks the checkpoint before use (``verify``: the checksums, or for checkpoints written
before checksums existed, which still load, the safetensors headers against the file sizes and the state file's
zip directory). A damaged newest checkpoint is named in a warning and the newest intact one is used instead;
``latest.txt`` must name a ``step_NNNNNN`` folder of the run itself (anything else is refused).

``resolve_named(run, "best")`` / ``resolve_named(run, "step_000120")`` / ``resolve_named(run, "latest")`` give a
checkpoint folder of a run, with an error that lists what the run holds when the name is missing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import random
import re
import shutil
import struct
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from tandem_rl.errors import InputFileError

STATE_FILE = "trainer_state.pt"
LATEST = "latest.txt"
BEST = "best"
BEST_RECORD = "best.json"
MANIFEST = "checksums.json"
STEP_NAME = re.compile(r"^step_\d{6}$")
# what a fresh run moves aside (never deletes) when the folder holds an earlier run without a checkpoint
RECORDS = ("metrics.jsonl", "validation.jsonl", "health.json", "rollouts", "tensorboard", "checkpoints", "config.yaml")


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def seal(folder: Path) -> None:
    """fsync every file of ``folder`` and write ``checksums.json`` (sha256 and size of each) last, then fsync the
    folder: the checkpoint can be checked by ``verify`` and survives a power loss once renamed."""
    files = {}
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())
        files[f.relative_to(folder).as_posix()] = {"sha256": _sha256(f), "bytes": f.stat().st_size}
    with open(folder / MANIFEST, "w") as fh:
        fh.write(json.dumps({"version": 1, "files": files}, indent=1) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(folder)


def verify(folder: str | os.PathLike) -> Optional[str]:
    """What is wrong with checkpoint ``folder`` (None when intact). With ``checksums.json``: every listed file
    present with its size and sha256. Without (checkpoints written before checksums existed): the trainer state and
    weights present, each ``*.safetensors`` as long as its header says, the state file's zip directory intact."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text())["files"]
        except (ValueError, KeyError, TypeError):
            return f"{manifest} is unreadable"
        for name, want in files.items():
            f = folder / name
            if not f.is_file():
                return f"{f} is missing"
            if f.stat().st_size != want["bytes"]:
                return f"{f} has {f.stat().st_size} bytes, {want['bytes']} were written (truncated?)"
            if _sha256(f) != want["sha256"]:
                return f"{f} does not match its checksum (corrupt)"
        return None
    for name in (STATE_FILE, "config.json"):
        if not (folder / name).is_file() or (folder / name).stat().st_size == 0:
            return f"{folder / name} is missing or empty"
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        return f"{folder} holds no *.safetensors weights"
    for f in weights:
        problem = _safetensors_problem(f)
        if problem:
            return f"{f}: {problem}"
    if not zipfile.is_zipfile(folder / STATE_FILE):
        return f"{folder / STATE_FILE} is not a complete torch.save file (truncated?)"
    return None


def _safetensors_problem(path: Path) -> Optional[str]:
    """A safetensors file is an 8-byte header length, a JSON header, then the tensors: check that it is whole."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if 8 + n > size:
                return "truncated (shorter than its header)"
            header = json.loads(fh.read(n))
    except (struct.error, ValueError, UnicodeDecodeError):
        return "not a safetensors file (unreadable header)"
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    return None if 8 + n + end <= size else f"truncated ({size} bytes of {8 + n + end})"


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
    for stale in [*root.glob(".tmp-*"), *root.glob(".trash-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    name = checkpoint_name(step)
    final = root / name
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{name}-"))
    try:
        model.save_pretrained(tmp, safe_serialization=True, **({"state_dict": state_dict} if state_dict else {}))
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        torch.save(state, tmp / STATE_FILE)
        seal(tmp)
        if final.exists():
            _discard(final)
        os.replace(tmp, final)
        _fsync_dir(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _write_text_atomic(latest_marker(run_dir), name + "\n")
    if keep_last > 0:
        done = sorted(p for p in root.glob("step_*") if p.is_dir() and (p / STATE_FILE).exists())
        for old in done[:-keep_last]:
            if old.name != name:
                _discard(old)
    return final


def _discard(folder: Path) -> None:
    """Delete a checkpoint folder: renamed out of the ``step_*`` names first (one atomic step), then removed, so a
    kill mid-delete leaves a ``.trash-*`` folder (cleaned on the next save), never a partial ``step_*``."""
    trash = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".trash-{folder.name}-"))
    os.replace(folder, trash)  # onto the empty folder mkdtemp made: a unique name, one rename
    _fsync_dir(folder.parent)
    shutil.rmtree(trash, ignore_errors=True)


def latest_marker(run_dir: str | os.PathLike) -> Path:
    """``run_dir/checkpoints/latest.txt``: it exists once a run has saved a complete checkpoint."""
    return Path(run_dir) / "checkpoints" / LATEST


def latest_checkpoint(run_dir: str | os.PathLike, warn: Optional[Callable[[str], None]] = None) -> Optional[Path]:
    """The newest intact checkpoint: the one ``latest.txt`` names, or, when that one fails ``verify``, the newest
    ``step_*`` folder that passes, with a warning naming the damaged one. None when the run has no ``latest.txt``.
    ``latest.txt`` must name a ``step_NNNNNN`` folder inside the run (``../../etc`` is refused); an error lists the
    damaged checkpoints when none is intact. ``warn``: where warnings go (default: stderr)."""
    marker = latest_marker(run_dir)
    if not marker.exists():
        return None
    name = marker.read_text(errors="replace").strip()
    if not STEP_NAME.match(name):
        raise InputFileError(f"{marker} names {name!r}, not a step_NNNNNN checkpoint of this run; refusing to follow "
                             f"it (fix or delete the file)")
    warn = warn or (lambda text: print(text, file=sys.stderr, flush=True))
    root, bad = marker.parent, []
    named = root / name
    candidates = [named] + sorted((p for p in root.glob("step_*") if STEP_NAME.match(p.name) and p.is_dir()
                                   and p.name != name), reverse=True)
    for path in candidates:
        problem = verify(path) if path.is_dir() else f"{path} does not exist"
        if problem is None:
            if bad:
                warn(f"warning: checkpoint {bad[0][0]} is damaged ({bad[0][1]}); using the newest intact one, "
                     f"{path}")
            return path
        bad.append((path, problem))
    raise InputFileError(f"{marker} names {name}, but no intact checkpoint is left: "
                         + "; ".join(problem for _, problem in bad))


def resume_point(run_dir: str | os.PathLike, resume: bool, *, main: bool = True) -> Optional[Path]:
    """The checkpoint a run starts from, and what happens to an earlier run in ``run_dir``:

    - ``resume``: the newest intact checkpoint (``latest_checkpoint``); a folder without one is refused (never
      "resumed" from step 0, which would cut its ``metrics.jsonl``);
    - a fresh run: refused when the folder holds checkpoints (``--resume`` continues them); otherwise an earlier
      run's records (``RECORDS``) are moved into ``previous-<time>/`` with a line saying so (rank 0 only, ``main``).
    """
    run_dir = Path(run_dir)
    if resume:
        ckpt = latest_checkpoint(run_dir, warn=None if main else (lambda _: None))
        if ckpt is None:
            kept = [r for r in RECORDS if (run_dir / r).exists()]
            raise InputFileError(f"--resume: {run_dir} has no checkpoint to resume from ({latest_marker(run_dir)} "
                                 f"is missing){'; its ' + ', '.join(kept) + ' are left as they are' if kept else ''}. "
                                 f"Run without --resume to start afresh (earlier records are moved into "
                                 f"{run_dir}/previous-<time>/, not deleted).")
        return ckpt
    if latest_marker(run_dir).exists():
        raise FileExistsError(f"{run_dir} already holds a run with checkpoints: pass --resume to continue it, "
                              f"or set train.output_dir to a new folder")
    if main:
        set_aside(run_dir)
    return None


def set_aside(run_dir: Path) -> Optional[Path]:
    """Move an earlier run's records out of the way of a fresh one (``run_dir/previous-<UTC time>/``)."""
    present = [r for r in RECORDS if (run_dir / r).exists()]
    if not any(r != "config.yaml" for r in present):
        return None
    dest = Path(tempfile.mkdtemp(dir=run_dir, prefix=f"previous-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-"))
    for r in present:
        os.replace(run_dir / r, dest / r)
    _fsync_dir(run_dir)
    print(f"{run_dir} held an earlier run without a checkpoint: its records were moved to {dest}", flush=True)
    return dest


def load_trainer_state(path: str | os.PathLike) -> dict:
    f = Path(path) / STATE_FILE
    try:
        return torch.load(f, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError) as err:  # truncated, empty, ...
        raise InputFileError(f"{f} cannot be read (truncated or corrupt? {err})") from err


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
        seal(tmp)
        if final.exists():
            aside = Path(tempfile.mkdtemp(dir=root, prefix=f".old-{BEST}-"))
            os.replace(final, aside)  # onto the empty folder mkdtemp made: a unique name, one rename
        os.replace(tmp, final)
        _fsync_dir(root)
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
