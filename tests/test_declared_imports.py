"""Every third-party module the code, tests and benchmarks import is declared in pyproject.toml.

CI installs into a fresh venv (``.ci/run``), where an undeclared import fails at collection; this test says which
declaration is missing, by name, on any machine (even one whose Python happens to carry the package).
Rules: ``tandem_rl/`` may import the core dependencies and the user-facing optional extras (not ``test`` or
``bench``: a user never installs those for a feature); ``tests/`` and ``benchmarks/`` the core dependencies and
the ``test`` extra, since the tests run both.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None


def _norm(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _requirement_names(reqs: list[str]) -> set[str]:
    return {_norm(re.match(r"[A-Za-z0-9_.\-]+", r).group(0)) for r in reqs}


def _imports(folder: Path) -> dict[str, str]:
    """Top-level module name -> one file that imports it (every import statement, function-local ones too)."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _local_modules() -> set[str]:
    """Modules of this repository that scripts import by path (tests/tiny.py, benchmarks, ...)."""
    local = {"tandem_rl"}
    for folder in ("tests", "benchmarks", "examples"):
        local |= {p.stem for p in (ROOT / folder).glob("*.py")}
    return local | {"tests"}


@pytest.mark.skipif(tomllib is None, reason="needs tomllib (Python 3.11+)")
def test_every_third_party_import_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _requirement_names(project["dependencies"])
    extras = {k: _requirement_names(v) for k, v in project.get("optional-dependencies", {}).items()}
    runtime_extras = [v for k, v in extras.items() if k not in ("test", "bench")]  # what a user can install
    allowed = {
        "tandem_rl": core.union(*runtime_extras),
        "tests": core | extras.get("test", set()),
        "benchmarks": core | extras.get("test", set()),
        "examples": core | extras.get("test", set()),
    }
    owners = md.packages_distributions()  # module -> distributions that provide it (installed ones)
    skip = set(sys.stdlib_module_names) | _local_modules()
    missing = []
    for folder, ok in allowed.items():
        if not (ROOT / folder).is_dir():
            continue
        for module, where in sorted(_imports(ROOT / folder).items()):
            if module in skip:
                continue
            dists = {_norm(d) for d in owners.get(module, [])}
            if not dists & ok:
                got = ", ".join(sorted(dists)) or "not installed"
                missing.append(f"{where} imports {module!r} ({got}): not declared for {folder}/ in pyproject.toml")
    assert not missing, "\n".join(missing)
