"""benchmarks/bench_crosstok.py still runs at its --smoke size and passes its own checks (both sides decode to the
same bytes, the loss mask fails closed on every row); its timings mean nothing here. The pattern of
tests/test_benchmarks.py, which also checks the commands docs/benchmarks.md quotes."""

import re
import sys

from test_benchmarks import _ok, _ratio, _run


def test_bench_crosstok_smoke():
    out = _ok(_run([sys.executable, "benchmarks/bench_crosstok.py", "--smoke"]))
    assert len(re.findall(r"rows checked (\d+)/\1", out)) == 2, out
    for name in ("crosstok= / lockstep", "crosstok / lockstep"):
        _ratio(out, re.escape(name) + r" = ([\d.]+)x slower")
