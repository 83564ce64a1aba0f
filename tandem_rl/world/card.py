"""Is a rebuilt world the same world? Comparing two world cards figure by figure.

A build is bitwise reproducible only with the same command, device type, thread count and library versions
(float summation order changes the trajectory otherwise). Elsewhere a rebuild is another draw of the recipe, and the
question is whether it behaves like the shipped one. ``compare_cards`` answers the narrow part of that: whether each
measured figure differs by more than probe noise (a two-proportion z statistic; each figure is a share of the probe
problems, or of the responses in one notation). It does not model build-to-build training variance: a rebuild on
other hardware can legitimately exceed it (docs/world.md), and is then a different world to re-measure::

    tandem-rl world compare /tmp/world/world_card.json          # against the shipped card; exit 1 on a difference

    >>> a = {"senior": {"acc_t1": 0.75, "probe_n": 400}}
    >>> rows = compare_cards(a, {"senior": {"acc_t1": 0.70, "probe_n": 400}})
    >>> rows[0]["figure"], round(rows[0]["z"], 2), rows[0]["agrees"]
    ('senior.acc_t1', -1.58, True)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

Z_LIMIT = 3.0  # |z| above this is a real difference, not probe noise (two-sided p ~ 0.003 per figure)


PER_NOTATION = {"acc_t1_plain": "plain", "acc_t1_jargon": "jargon", "acc_t1_terse": "terse"}


def _share_figures(model: dict) -> dict[str, tuple[float, int]]:
    """The card's accuracy and notation-rate figures of one model: name -> (share in 0..1, how many it is a share
    of). Per-notation accuracies count only that notation's responses, and are left out without those counts."""
    n_probe, by_notation = int(model.get("probe_n", 0)), model.get("n_t1_by_notation") or {}
    out = {}
    for k, v in model.items():
        if not ((k.startswith("acc_") or "_rate_" in k) and isinstance(v, (int, float)) and v == v):
            continue
        n = int(by_notation.get(PER_NOTATION[k], 0)) if k in PER_NOTATION else n_probe
        if n:
            out[k] = (float(v), n)
    return out


def compare_cards(shipped: dict, rebuilt: dict, z_limit: float = Z_LIMIT) -> list[dict]:
    """One row per figure both cards hold: values, difference, z, and whether they agree (|z| <= ``z_limit``)."""
    va, vb = shipped.get("world_version"), rebuilt.get("world_version")
    if va != vb:
        raise ValueError(f"world_version {vb!r} of the rebuilt card is not the reference's {va!r}: different worlds")
    rows = []
    for name in ("junior", "senior"):
        a, b = shipped.get(name), rebuilt.get(name)
        if not isinstance(a, dict) or not isinstance(b, dict):
            continue
        fa, fb = _share_figures(a), _share_figures(b)
        for key in sorted(set(fa) & set(fb)):
            (pa, na), (pb, nb) = fa[key], fb[key]
            pooled = (pa * na + pb * nb) / (na + nb)
            se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
            z = (pb - pa) / se if se > 0 else (0.0 if pa == pb else math.copysign(math.inf, pb - pa))
            rows.append({"figure": f"{name}.{key}", "shipped": pa, "rebuilt": pb, "diff": pb - pa, "z": z,
                         "n": (na, nb), "agrees": abs(z) <= z_limit})
    return rows


def format_comparison(rows: list[dict], z_limit: float = Z_LIMIT) -> str:
    lines = [f"{'figure':<34}{'shipped':>9}{'rebuilt':>9}{'diff':>8}{'z':>7}  agrees (|z| <= {z_limit:g})"]
    for r in rows:
        lines.append(f"{r['figure']:<34}{r['shipped']:>9.3f}{r['rebuilt']:>9.3f}{r['diff']:>+8.3f}{r['z']:>7.2f}  "
                     f"{'yes' if r['agrees'] else 'NO'}")
    n_bad = sum(not r["agrees"] for r in rows)
    models = sorted({r["figure"].split(".")[0] for r in rows})
    lines.append(f"{len(rows) - n_bad} of {len(rows)} figures agree ({', '.join(models) or 'no model'} compared)"
                 + ("" if not n_bad else f"; {n_bad} differ beyond probe noise"))
    return "\n".join(lines)


def load_card(path) -> dict:
    return json.loads(Path(path).read_text())
