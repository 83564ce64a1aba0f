"""Tandem RL and vanilla GRPO differ only in the schedule handed to the engine.

A recording engine stands in for ``CoGenerator``: it records every call and returns the same canned co-written
rollouts whatever the schedule. Running one short training of each method, every engine argument except
``rollout.schedule`` must be identical, and so must everything computed after the engine (metrics, weights).
The one other difference is documented: a ``solo`` run does not load a junior it never uses.
"""

import dataclasses
import json

import numpy as np
import torch

from tandem_rl.cogen.rollouts import Rollouts
from tandem_rl.config import load_config
from tandem_rl.train import loop
from tandem_rl.train.checkpoint import latest_checkpoint


class RecordingEngine:
    calls: list = []

    def __init__(self, senior, junior, tokenizer, **kw):
        self.tokenizer = tokenizer
        RecordingEngine.calls.append(("init", {"junior_is_none": junior is None, "kw": kw}))

    def generate(self, prompts, rollout, *, seed, progress=False):
        RecordingEngine.calls.append(("generate", {"prompts": prompts, "rollout": dataclasses.asdict(rollout),
                                                   "seed": seed}))
        tok = self.tokenizer
        resp, auth = [], []
        for r in range(len(prompts)):
            ids = tok.encode(f"So \\boxed{{{(r * 7 + seed) % 4}}}") + [tok.eos_token_id]
            resp.append(ids)
            auth.append(np.array([(k + r) % 3 != 0 for k in range(len(ids))], dtype=np.uint8))
        return Rollouts([list(p) for p in prompts], resp, auth, [np.full(len(x), -1.0, np.float32) for x in resp],
                        [np.full(len(x), np.nan, np.float32) for x in resp], ["eos"] * len(prompts))


def _run(root, schedule, monkeypatch):
    import tandem_rl.cogen.engine as engine

    monkeypatch.setattr(engine, "CoGenerator", RecordingEngine)
    RecordingEngine.calls = []
    cfg = load_config(None, [f"model.senior={root / 'model'}", f"data.source={root / 'p.jsonl'}",
                             f"train.output_dir={root / schedule}", f"rollout.schedule={schedule}", "train.steps=2",
                             "train.prompts_per_step=2", "grpo.group_size=4", "reward.workers=0", "train.lr=1e-2",
                             "train.loggers=[jsonl]", "train.dump_rollouts_every=1"])
    run = loop.train(cfg, progress=False)
    return run, list(RecordingEngine.calls)


def test_only_the_schedule_differs(tiny_run, monkeypatch):
    run_t, calls_t = _run(tiny_run, "word", monkeypatch)
    run_g, calls_g = _run(tiny_run, "solo", monkeypatch)
    assert [c[0] for c in calls_t] == [c[0] for c in calls_g] == ["init", "generate", "generate"]
    kw = {"decode": "dynamic"}  # the engine gets the same settings; only the junior (unused by solo) differs
    assert calls_t[0][1] == {"junior_is_none": False, "kw": kw} and calls_g[0][1] == {"junior_is_none": True, "kw": kw}
    for (_, t), (_, g) in zip(calls_t[1:], calls_g[1:]):
        assert t["prompts"] == g["prompts"] and t["seed"] == g["seed"]
        assert t["rollout"]["schedule"] == "word" and g["rollout"]["schedule"] == "solo"
        assert {k: v for k, v in t["rollout"].items() if k != "schedule"} == \
               {k: v for k, v in g["rollout"].items() if k != "schedule"}
    # everything downstream of the engine is identical
    strip = lambda rows: [{k: v for k, v in r.items() if "seconds" not in k and "per_s" not in k} for r in rows]
    mt = [json.loads(x) for x in (run_t / "metrics.jsonl").read_text().splitlines()]
    mg = [json.loads(x) for x in (run_g / "metrics.jsonl").read_text().splitlines()]
    assert strip(mt) == strip(mg)
    assert sum(r["updates"] for r in mt) >= 1 and 0 < mt[0]["reward_mean"] < 1
    for s in (1, 2):
        assert (run_t / f"rollouts/step_{s:06d}.jsonl").read_text() == (run_g / f"rollouts/step_{s:06d}.jsonl").read_text()
    from safetensors.torch import load_file

    wt = load_file(latest_checkpoint(run_t) / "model.safetensors")
    wg = load_file(latest_checkpoint(run_g) / "model.safetensors")
    assert wt.keys() == wg.keys() and all(torch.equal(wt[k], wg[k]) for k in wt)
    # the resolved configs differ in the schedule and the output folder only
    import yaml

    ct = yaml.safe_load((run_t / "config.yaml").read_text())
    cg = yaml.safe_load((run_g / "config.yaml").read_text())
    diff = {(s, k) for s in ct for k in ct[s] if ct[s][k] != cg[s][k]}
    assert diff == {("rollout", "schedule"), ("train", "output_dir")}


def test_solo_mix_members_use_the_solo_schedule(tiny_run, monkeypatch):
    import tandem_rl.cogen.engine as engine

    monkeypatch.setattr(engine, "CoGenerator", RecordingEngine)
    RecordingEngine.calls = []
    cfg = load_config(None, [f"model.senior={tiny_run / 'model'}", f"data.source={tiny_run / 'p.jsonl'}",
                             f"train.output_dir={tiny_run / 'mix'}", "train.steps=1", "train.prompts_per_step=2",
                             "grpo.group_size=4", "grpo.solo_mix=0.25", "reward.workers=0", "train.loggers=[jsonl]",
                             "train.dump_rollouts_every=1"])
    run = loop.train(cfg, progress=False)
    gens = [c[1] for c in RecordingEngine.calls if c[0] == "generate"]
    assert [g["rollout"]["schedule"] for g in gens] == ["word", "solo"]
    assert [len(g["prompts"]) for g in gens] == [6, 2]  # 3 tandem + 1 solo member per group of 4
    rows = [json.loads(x) for x in (run / "rollouts/step_000001.jsonl").read_text().splitlines()]
    assert [r["solo_mix"] for r in rows] == [False, False, False, True] * 2
    assert [r["prompt_index"] for r in rows] == [0] * 4 + [1] * 4
    assert all(r["prompt"] == rows[4 * (i // 4)]["prompt"] for i, r in enumerate(rows))
