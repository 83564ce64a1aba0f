"""The world's shipped files: the tokenizer + two tiny checkpoints, and the problem splits.

    >>> asset_dir("senior").name, (asset_dir("junior") / "config.json").exists()
    ('senior', True)
    >>> problems_file("test").name
    'test.jsonl'
    >>> Path(resolve("world:junior")).name, resolve("data/x.jsonl")
    ('junior', 'data/x.jsonl')

``tandem-rl world build --out DIR`` re-creates everything here from code (deterministic recipe).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
MODELS = ("senior", "junior")
SPLIT_FILES = {"train": "train.jsonl", "test": "test.jsonl"}


def asset_dir(name: str) -> Path:
    """The shipped HF folder (weights, config, tokenizer, chat template) of ``'senior'`` or ``'junior'``."""
    if name not in MODELS:
        raise ValueError(f"world model {name!r} is not one of {MODELS}")
    path = ROOT / name
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} holds no checkpoint; re-create it with `tandem-rl world build`")
    return path


def problems_file(split: str) -> Path:
    """The shipped jsonl of ``split`` ('train' or 'test'): fields id, problem, answer, n_ops, key."""
    if split not in SPLIT_FILES:
        raise ValueError(f"world split {split!r} is not one of {tuple(SPLIT_FILES)}")
    path = ROOT / "problems" / SPLIT_FILES[split]
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; re-create it with `tandem-rl world build`")
    return path


def resolve(name: str) -> str:
    """``world:senior`` / ``world:junior`` -> the shipped model folder, ``world:train`` / ``world:test`` -> the
    shipped problem file; any other name is returned unchanged."""
    if not name.startswith("world:"):
        return name
    key = name.split(":", 1)[1]
    return str(asset_dir(key) if key in MODELS else problems_file(key))
