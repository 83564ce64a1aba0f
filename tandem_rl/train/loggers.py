"""Metric sinks: ``metrics.jsonl`` always; TensorBoard, wandb and trackio when asked for (``train.loggers``).

``metrics.jsonl`` has one JSON object per logged step, always with ``"step"``; non-finite floats are written as
``null`` so every line is strict JSON. On resume, lines of steps after the checkpoint are dropped (they will be
logged again), so the file never holds a step twice.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def truncate_jsonl(path: Path, last_step: int) -> None:
    """Keep only rows with ``step <= last_step`` (used on resume)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                if json.loads(line).get("step", -1) <= last_step:
                    keep.append(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a kill mid-write
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(x + "\n" for x in keep))
    os.replace(tmp, path)


class MetricLogger:
    def __init__(self, run_dir: Path, loggers: list[str], *, project: str, config: dict, resume_step: int | None):
        self.path = Path(run_dir) / "metrics.jsonl"
        if resume_step is not None:
            truncate_jsonl(self.path, resume_step)
        elif self.path.exists():
            self.path.unlink()
        self._fh = open(self.path, "a")
        self._tb = self._wandb = self._trackio = None
        if "tensorboard" in loggers:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"),
                                     purge_step=None if resume_step is None else resume_step + 1)
        for name in ("wandb", "trackio"):
            if name in loggers:
                if importlib.util.find_spec(name) is None:
                    raise RuntimeError(f"train.loggers asks for {name!r}, but it is not installed "
                                       f"(pip install {name}, or remove it from train.loggers)")
                module = importlib.import_module(name)
                module.init(project=project, name=Path(run_dir).name, config=config)
                setattr(self, f"_{name}", module)

    def log(self, metrics: dict) -> None:
        step = int(metrics["step"])
        row = {k: _clean(v) for k, v in metrics.items()}
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        numeric = {k: v for k, v in row.items() if k != "step" and isinstance(v, (int, float)) and v is not None}
        if self._tb is not None:
            for k, v in numeric.items():
                self._tb.add_scalar(k, v, step)
        for module in (self._wandb, self._trackio):
            if module is not None:
                module.log(numeric, step=step)

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()
        for module in (self._wandb, self._trackio):
            if module is not None:
                module.finish()
