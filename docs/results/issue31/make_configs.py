"""Issue #31: the evaluation config (the demo's eval settings, West et al.'s setting, solo + anatomy, seed groups and
pairs of the three arms), and the 2-3-operation subset of an evaluation folder (records copied, order of the subset's
rows), so that `tandem-rl eval --reuse` recomputes every interval with the project's comparison code.

    python make_configs.py config OUT.yaml [0,1,2,3,4]  # the full evaluation's config (seeds)
    python make_configs.py subset EVAL_DIR SUB_DIR    # SUB_DIR/eval_in.yaml + SUB_DIR/<label>/samples.jsonl
"""
import dataclasses, json, sys
from pathlib import Path
from tandem_rl.config import load_config
from tandem_rl.config_io import save_config
from tandem_rl.eval.runner import load_benchmarks
from tandem_rl.world.demo import demo_config

ARMS = ("grpo", "tandem_weak", "grpo_plain", "tandem_skipjr")
SEEDS = range(5)
PAIRS = ["grpo_plain - grpo", "tandem_weak - grpo_plain", "tandem_weak - grpo", "tandem_skipjr - tandem_weak",
         "tandem_skipjr - grpo_plain"]


def full_config(out, seeds=SEEDS, arms=ARMS):
    cfg = demo_config([])
    ec = dataclasses.replace(cfg.eval, setting="west", metrics=["solo", "handoff", "legibility"],
                             handoff_schedules=["paragraph"], pairs=PAIRS,
                             seed_groups={a: [f"{a}_s{s}" for s in seeds] for a in arms})
    save_config(dataclasses.replace(cfg, eval=ec), out)


def subset(eval_dir, sub_dir, ops=(2, 3)):
    eval_dir, sub_dir = Path(eval_dir), Path(sub_dir)
    cfg = load_config(eval_dir / "eval_config.yaml")
    benches, _ = load_benchmarks(cfg)
    [(name, problems)] = benches.items()
    keep = {p.id for p in problems if int(p.meta["n_ops"]) in ops}
    src = Path(cfg.eval.benchmarks[0])
    (sub_dir / "bench").mkdir(parents=True, exist_ok=True)
    bench = sub_dir / "bench" / src.name  # same file stem: the same benchmark name and problem ids
    rows = [json.loads(x) for x in src.read_text().splitlines()]
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows if f"{name}:{r['id']}" in keep))
    cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, benchmarks=[str(bench)], limit=None))
    save_config(cfg, sub_dir / "eval_in.yaml")
    new_order = {p.id: i for i, p in enumerate(load_benchmarks(cfg)[0][name])}
    assert set(new_order) == keep, "the subset file must load exactly the kept problems"
    for f in sorted(eval_dir.glob("*/samples.jsonl")):
        recs = [json.loads(x) for x in f.read_text().splitlines()]
        recs = [r for r in recs if r["problem_id"] in keep]
        sched = {s: i for i, s in enumerate(dict.fromkeys(r["schedule"] for r in recs))}
        recs.sort(key=lambda r: (sched[r["schedule"]], new_order[r["problem_id"]], r["sample"]))
        (sub_dir / f.parent.name).mkdir(exist_ok=True)
        (sub_dir / f.parent.name / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    print(f"{len(keep)} of {len(problems)} problems have {ops} operations -> {sub_dir}")


if __name__ == "__main__":
    if sys.argv[1] == "config":
        seeds = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else SEEDS
        full_config(sys.argv[2], seeds, sys.argv[4].split(",") if len(sys.argv) > 4 else ARMS)
    else:
        subset(sys.argv[2], sys.argv[3])
