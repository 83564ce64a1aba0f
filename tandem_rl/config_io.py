"""Nested config dataclasses <-> YAML and ``key=value`` overrides.

Every config field carries ``metadata={"help": ...}``; ``describe(Config)`` prints them. Unknown keys are errors
that name the key and the section, so a typo never silently falls back to a default.

Example::

    cfg = load_config("configs/demo.yaml", ["rollout.schedule=solo", "train.steps=50"])
    save_config(cfg, "runs/x/config.yaml")
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import typing
from pathlib import Path
from typing import Any

import yaml

from tandem_rl.errors import ConfigError


def field_help(cls_or_obj: Any, name: str) -> str:
    for f in dataclasses.fields(cls_or_obj):
        if f.name == name:
            return f.metadata.get("help", "")
    raise KeyError(name)


def _resolved_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Coerce a YAML-loaded value to the annotated type (nested dataclasses included)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except (ValueError, TypeError):
                continue
        raise ValueError(f"{where}: {value!r} does not fit {tp}")
    if tp is Any:
        return value
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v != ""]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        out = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return out if origin is list else tuple(out)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{where}: {value!r} is not one of {args}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        if value is None:
            raise ValueError(f"{where}: expected a string, got null")
        return str(value)
    return value


def from_dict(cls: type, data: dict, where: str = "config") -> Any:
    """Build dataclass ``cls`` from a (possibly partial) mapping; unknown keys raise ``ValueError``."""
    types = _resolved_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(names)}")
    kwargs = {k: _coerce(v, types[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b.c=value`` strings to a nested dict; values are parsed as YAML (``3`` -> int, ``[1,2]`` -> list).

    >>> apply_overrides({}, ["train.steps=50", "rollout.p=0.3"])
    {'train': {'steps': 50}, 'rollout': {'p': 0.3}}
    >>> try:
    ...     apply_overrides({}, ["train.lr=[1"])
    ... except ConfigError as err:
    ...     print(str(err)[:60])
    override 'train.lr=[1': the value is not valid YAML (line 1,
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. train.steps=100)")
        key, raw = item.split("=", 1)
        value = _parse_yaml(raw, f"override {item!r}: the value") if raw != "" else ""
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p!r} is not a section")
        node[parts[-1]] = value
    return data


def load_config(cls: type, path: str | os.PathLike | None, overrides: list[str] | None = None) -> Any:
    """Read YAML ``path`` (or start from defaults when ``None``), apply overrides, validate into ``cls``."""
    data: dict = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"config {path}: cannot be read ({getattr(err, 'strerror', None) or err})") from err
        data = _parse_yaml(text, f"config {path}") or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
    data = apply_overrides(data, list(overrides or []))
    try:
        cfg = from_dict(cls, data, where=str(path) if path else "config")
        validate = getattr(cfg, "validate", None)
        if callable(validate):
            validate()
    except (ValueError, TypeError) as err:  # the messages name the file and the key already
        raise ConfigError(str(err)) from err
    return cfg


def _parse_yaml(text: str, what: str):
    """``yaml.safe_load`` with an error that names ``what`` and the line, not "<unicode string>"."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{what} is not valid YAML ({where}{problem})") from None


def save_config(cfg: Any, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".yaml")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def describe(cls: type, prefix: str = "") -> list[str]:
    """One line per field: ``section.key (default): help``; used by ``tandem-rl config --help-fields``."""
    lines = []
    types = _resolved_types(cls)
    for f in dataclasses.fields(cls):
        tp = types[f.name]
        if dataclasses.is_dataclass(tp):
            lines += describe(tp, prefix + f.name + ".")
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "required")
        lines.append(f"{prefix}{f.name} = {default!r}: {f.metadata.get('help', '')}")
    return lines
