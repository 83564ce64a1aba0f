"""Every benchmark still runs: each script in benchmarks/ at its ``--smoke`` size, and every command that
docs/benchmarks.md quotes names a script and flags that exist. Smoke timings mean nothing; what is checked is that
the script runs to its end, prints its ratios, and passes its own correctness checks (exit code 0)."""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _run(args: list[str], timeout: int = 300, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    # PYTHONPATH: the scripts import the tandem_rl of this checkout, whatever else is installed
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": path,
           **(env_extra or {})}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _ratio(text: str, pattern: str) -> float:
    m = re.search(pattern, text)
    assert m, f"no line matching {pattern!r} in:\n{text[-2000:]}"
    value = float(m.group(1))
    assert math.isfinite(value) and value > 0, f"{pattern}: {value}"
    return value


def test_bench_rewards_smoke():
    out = _ok(_run([sys.executable, "benchmarks/bench_rewards.py", "--smoke"]))
    assert "rewards agree on 40/40" in out
    assert "injected command ran: False" in out
    _ratio(out, r"GraderPool\(workers=2\):\s+([\d.]+) answers/s")


def test_bench_cogen_smoke():
    out = _ok(_run([sys.executable, "benchmarks/bench_cogen.py", "--smoke", "--threads", "1",
                    "--decode", "dynamic,static"]))
    assert "solo greedy == HF generate greedy on 2/2 rows" in out
    for name in ("solo / hf_generate", "word_self_paired / solo", "word_small_junior / solo"):
        _ratio(out, re.escape(name) + r"\s+=\s+([\d.]+)")
    assert re.search(r"solo\[static\]: vs dynamic solo x[\d.]+ .* same rows 2/2", out)


def test_bench_trainer_smoke():
    pytest.importorskip("trl", reason="the trainer benchmark compares against TRL: pip install -e '.[test]'")
    out = _ok(_run([sys.executable, "benchmarks/bench_trainer.py", "--smoke", "--threads", "1"]))
    for key in ("rollout_tok_s", "update_tok_s", "end_to_end_tok_s"):
        _ratio(out, rf"^{key}\s+[\d.]+\s+[\d.]+\s+([\d.]+)x$".replace("^", "(?m)^", 1))
    mean_len = _ratio(out, r"(?m)^mean_len\s+([\d.]+)")
    assert mean_len <= 8.0  # --smoke: at most 8 new tokens


def test_bench_train_step_smoke():
    out = _ok(_run([sys.executable, "benchmarks/bench_train_step.py", "--smoke", "--threads", "1"]))
    for schedule in ("solo", "word"):
        _ratio(out, rf"(?m)^\s*{schedule}: step ([\d.]+) s")
    _ratio(out, r"word / solo: step ([\d.]+)")


def test_gpu_check_syntax_and_refusal_without_gpu():
    bash = shutil.which("bash")
    assert _run([bash, "-n", "benchmarks/gpu_check.sh"]).returncode == 0
    assert _run([bash, "-n", "benchmarks/gpu_wheels.sh"]).returncode == 0
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the refusal path does not apply")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # python3 = this interpreter
    proc = _run([bash, "benchmarks/gpu_check.sh"], env_extra={"PATH": path}, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no CUDA GPU" in proc.stderr and "--dry-run" in proc.stderr


def test_gpu_check_dry_run(tmp_path):
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    out = _ok(_run([shutil.which("bash"), "benchmarks/gpu_check.sh", "--dry-run"],
                   env_extra={"PATH": path, "OUT": str(tmp_path)}))
    assert "tests rc=0 bench rc=0 train rc=0" in out
    assert (tmp_path / "bench_cogen.txt").read_text().count("same rows 2/2") == 2


def _documented_commands() -> list[list[str]]:
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    cmds = []
    for m in re.finditer(r"python3? (benchmarks/\S+\.py)([^`\n]*)", text):
        cmds.append([m.group(1), *shlex.split(m.group(2))])
    for m in re.finditer(r"bash (benchmarks/\S+\.sh)", text):
        cmds.append([m.group(1)])
    return cmds


def test_documented_benchmark_commands_exist():
    """Each command quoted in docs/benchmarks.md names a script that exists and only flags its parser knows."""
    cmds = _documented_commands()
    assert len(cmds) >= 4, cmds
    helps: dict[str, str] = {}
    for script, *args in cmds:
        assert (ROOT / script).is_file(), f"docs/benchmarks.md quotes {script}, which does not exist"
        if not script.endswith(".py"):
            continue
        if script not in helps:
            helps[script] = _ok(_run([sys.executable, script, "--help"], timeout=120))
        for flag in (a.split("=")[0] for a in args if a.startswith("--")):
            assert re.search(rf"{re.escape(flag)}\b", helps[script]), f"{script} has no flag {flag} (docs quote it)"
