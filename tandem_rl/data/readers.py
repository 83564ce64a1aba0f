"""Raw rows from a file, a saved ``datasets`` folder or the hub, each as ``(row_number, dict)``.

    for row, record in read_rows("train.jsonl"):      # row = line number for .jsonl, else 1-based row index
        ...

A line of a .jsonl file that is not a JSON object comes back as ``(line, DataError)``: the caller decides whether to
raise or skip. Empty CSV cells read as missing (None).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator, Optional, Union

from tandem_rl.data.problem import DataError

Row = tuple[int, Union[dict, DataError]]
FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


def _jsonl(path: Path) -> Iterator[Row]:
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                yield line_no, DataError(f"{path.name}, row {line_no}: not valid JSON ({e.msg})")
                continue
            if not isinstance(record, dict):
                yield line_no, DataError(f"{path.name}, row {line_no}: expected a JSON object, got "
                                         f"{type(record).__name__}")
                continue
            yield line_no, record


def _json(path: Path) -> Iterator[Row]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        yield from _jsonl(path)  # many ".json" files are really JSON lines
        return
    if not isinstance(data, list):
        raise DataError(f"{path.name}: expected a JSON list of objects (or JSON lines)")
    for i, record in enumerate(data, start=1):
        yield i, record if isinstance(record, dict) else DataError(
            f"{path.name}, row {i}: expected a JSON object, got {type(record).__name__}")


def _parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    yield from enumerate(pq.read_table(path).to_pylist(), start=1)


def _csv(path: Path) -> Iterator[Row]:
    with open(path, encoding="utf-8", newline="") as f:
        for i, record in enumerate(csv.DictReader(f), start=1):
            yield i, {k: (v if v != "" else None) for k, v in record.items() if k is not None}


def _pick_split(ds, split: Optional[str], where: str):
    from datasets import DatasetDict

    if not isinstance(ds, DatasetDict):
        return ds
    if split is None:
        return ds[next(iter(ds.keys()))]
    if split not in ds:
        raise DataError(f"{where}: no split {split!r}; it has {sorted(ds.keys())} (set data.split)")
    return ds[split]


def read_rows(source: str, split: Optional[str] = "train") -> Iterator[Row]:
    """Rows of a .jsonl/.json/.parquet/.csv file, a ``save_to_disk`` folder, or a hub dataset name.

    ``split=None`` takes a folder's or hub dataset's first split.
    """
    path = Path(source)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix not in FILE_SUFFIXES:
            raise DataError(f"{source}: unsupported file type {suffix!r} (use one of {', '.join(FILE_SUFFIXES)})")
        yield from {".jsonl": _jsonl, ".json": _json, ".parquet": _parquet, ".csv": _csv}[suffix](path)
        return
    if path.is_dir():
        from datasets import load_from_disk

        try:
            ds = load_from_disk(str(path))
        except FileNotFoundError as e:
            raise DataError(f"{source}: a folder, but not one written by datasets' save_to_disk ({e})") from e
        yield from enumerate(_pick_split(ds, split, source), start=1)
        return
    if path.suffix.lower() in FILE_SUFFIXES or source.startswith((".", "/", "~")):
        raise DataError(f"{source}: no such file")
    if source.count("/") != 1:
        raise DataError(f"data.source {source!r}: not a file or folder, not a recipe or gym:<generator>, and not a "
                        "hub dataset name (owner/name)")
    yield from enumerate(_hub(source, split), start=1)


def _hub(name: str, split: Optional[str]):
    from datasets import load_dataset

    try:
        ds = load_dataset(name, split=split) if split is not None else load_dataset(name)
    except Exception as e:  # offline, unknown name, gated, ...
        raise DataError(
            f"could not load the hub dataset {name!r} (split {split!r}): {type(e).__name__}: {str(e)[:300]}. "
            "No hub reachable? Point data.source at a local .jsonl/.parquet/.csv file or save_to_disk folder, or "
            "set data.recipe_dir to a folder holding local copies of the recipe's parts.") from e
    return _pick_split(ds, split, name)
