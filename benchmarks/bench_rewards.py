"""Reward grading: throughput through the pool vs one process, and a fuzz run of adversarial answers.

    python benchmarks/bench_rewards.py                   # 2,000 realistic answers, 10,000 fuzz answers
    python benchmarks/bench_rewards.py --fuzz 20000 --timeout 2 --workers 2
    python benchmarks/bench_rewards.py --smoke           # seconds: tiny sizes, checks the script still runs

Throughput: the same realistic mix (right and wrong answers; about half need math-verify) graded by ``grade`` in
this process (no timeout) and by ``GraderPool``. Fuzz: random nesting, huge powers, factorials, unbalanced braces,
unicode, injection strings and long strings through the pool; prints how many were graded, timed out or errored,
the longest wall time of any single answer, and checks that no injected command ran. Exits 1 when a check fails
(pool and single process disagree, a crash, an injected command ran), so the smoke test catches those too.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

from tandem_rl.rewards import GraderPool, grade, quick_grade

REALISTIC = [  # (pred, gold) templates, K = a random integer: a mix of what a math RL run produces
    ("K", "K"), (r"\frac{1}{K}", "1/K"), (r"\dfrac{K}{4}", r"\frac{K}{4}"), (r"\{1,K\}", r"\{K,1\}"),
    ("x^2+2Kx+K^2", "(x+K)^2"), ("(0,K]", "(0, K]"), (r"K\sqrt{2}", r"\sqrt{2K^2}"), ("K", "K+1"), (r"\pi", "3.14"),
    (r"\frac{\sqrt{3}}{2}", r"\sin(60^\circ)"), ("3x", "x+2x"), ("-K", "K"), ("0.5", r"\frac{1}{2}"),
    ("y=Kx+1", "Kx+1"), (r"\text{(C)}", "C"), ("[K,K+3)", "[K,K+3]"),
]


def realistic(n: int, rng: random.Random) -> tuple[list[str], list[str]]:
    responses, golds = [], []
    for _ in range(n):
        pred, gold = rng.choice(REALISTIC)
        k = str(rng.randint(2, 999))  # vary the numbers so that sympy's caches do not answer for us
        responses.append(f"Step 1 ... step 2 ... so the answer is $\\boxed{{{pred.replace('K', k)}}}$.")
        golds.append(gold.replace("K", k))
    return responses, golds


def adversarial(rng: random.Random, marker: str, kinds=range(9)) -> str:
    kind = rng.choice(list(kinds))
    if kind == 0:  # deep random nesting
        d = rng.randint(5, 400)
        o, c = rng.choice([("{", "}"), ("(", ")"), ("\\frac{1}{", "}"), ("\\sqrt{", "}")])
        body = o * d + str(rng.randint(0, 99)) + c * d
    elif kind == 1:  # huge powers, towers
        body = "^".join("{" + str(rng.randint(2, 99)) for _ in range(rng.randint(2, 6))) + "}" * 6
        body = str(rng.randint(2, 99)) + "^" + body if rng.random() < 0.5 else f"10^{{{rng.randint(10**5, 10**9)}}}"
    elif kind == 2:  # factorials
        body = rng.choice([f"{rng.randint(1000, 10**7)}!", f"({rng.randint(10, 99)}!)!", f"{rng.randint(2, 9)}!!!"])
    elif kind == 3:  # unbalanced braces
        body = "".join(rng.choice("{}()[]\\frac12") for _ in range(rng.randint(1, 60)))
    elif kind == 4:  # unicode
        body = "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 40)))
    elif kind == 5:  # injection strings
        body = rng.choice([f"__import__('os').system('touch {marker}')", f"exec(\"open('{marker}','w')\")",
                           f"eval('open(\"{marker}\",\"w\")')", f"os.system('touch {marker}')",
                           f"(lambda: open('{marker}', 'w'))()", f"\\input{{{marker}}}"])
    elif kind == 6:  # long strings
        body = "".join(rng.choice("x+-*/123^ ") for _ in range(rng.randint(300, 20000)))
    elif kind == 7:  # random LaTeX soup
        body = " ".join(rng.choice([r"\frac", r"\sqrt", "{", "}", "x", "^", "_", r"\int", r"\sum", r"\infty", "=",
                                    r"\cdot", "2", "(", ")", r"\left(", r"\right)", r"\begin{matrix}", "&", r"\\"])
                        for _ in range(rng.randint(1, 50)))
    else:  # plausible but wrong
        body = f"{rng.randint(-999, 999)}/{rng.randint(1, 999)}"
    if rng.random() < 0.1:
        return body  # no box at all
    return f"reasoning... \\boxed{{{body}}}" + ("" if rng.random() < 0.8 else "}}}{{")


def main(argv=None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # progress shows up when redirected to a file
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="realistic answers for the throughput comparison")
    ap.add_argument("--fuzz", type=int, default=10000, help="adversarial answers")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=2.0, help="per-answer timeout (s) of the pool")
    ap.add_argument("--unguarded", type=int, default=200,
                    help="nesting/power/factorial/injection answers sent to math-verify with the cost guard off")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes (40 answers, 100 fuzz, 2 unguarded, 1 s timeout): a few seconds, for the tests")
    args = ap.parse_args(argv)
    warm = 300
    if args.smoke:
        args.n, args.fuzz, args.unguarded, args.timeout, warm = 40, 100, 2, 1.0, 20
    rng = random.Random(args.seed)

    responses, golds = realistic(args.n, rng)
    # Warm both sides alike on other answers from the same templates: sympy and math-verify cache per process,
    # and a fresh worker should not be compared with a process that has graded for a while.
    warm_r, warm_g = realistic(warm, rng)
    for r, g in zip(warm_r, warm_g):
        grade(r, g)
    t = time.perf_counter()
    single = [grade(r, g) for r, g in zip(responses, golds)]
    single_s = time.perf_counter() - t
    with GraderPool(args.workers, args.timeout) as pool:
        pool.warm_up()
        pool.grade(warm_r, warm_g)
        t = time.perf_counter()
        pooled = pool.grade(responses, golds)
        pool_s = time.perf_counter() - t
        open_share = sum(quick_grade(r, g)[0] is None for r, g in zip(responses, golds)) / args.n
    agree = sum(a.reward == b.reward for a, b in zip(single, pooled))
    print(f"throughput on {args.n} realistic answers ({open_share:.0%} need math-verify), "
          f"os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    print(f"  single process (grade, no timeout): {args.n / single_s:8.1f} answers/s")
    print(f"  GraderPool(workers={args.workers}):          {args.n / pool_s:8.1f} answers/s "
          f"(x{single_s / pool_s:.2f}); rewards agree on {agree}/{args.n}; "
          f"solve rate {sum(r.reward for r in pooled) / args.n:.2f}")

    marker = os.path.join(tempfile.mkdtemp(), "pwned")
    fuzz = [adversarial(rng, marker) for _ in range(args.fuzz)]
    stages: dict[str, int] = {}
    crashes, max_quick, batch = 0, 0.0, 500
    t = time.perf_counter()
    with GraderPool(args.workers, args.timeout) as pool:
        for r in fuzz:  # the in-process stages, timed one by one
            q = time.perf_counter()
            quick_grade(r, "42")
            max_quick = max(max_quick, time.perf_counter() - q)
        for i in range(0, len(fuzz), batch):
            try:
                for res in pool.grade(fuzz[i:i + batch], ["42"] * len(fuzz[i:i + batch])):
                    stages[res.stage] = stages.get(res.stage, 0) + 1
            except Exception as e:  # a crash is what this run is looking for
                crashes += 1
                print(f"  CRASH in batch {i // batch}: {type(e).__name__}: {e}")
        stats = dict(pool.stats)
    fuzz_s = time.perf_counter() - t
    graded = sum(stages.values())
    print(f"fuzz: {args.fuzz} adversarial answers in {fuzz_s:.1f} s, timeout {args.timeout} s, "
          f"{args.workers} workers")
    print(f"  graded {graded}, timeouts {stages.get('timeout', 0)}, errors {stages.get('error', 0)}, "
          f"crashes {crashes}; stages {dict(sorted(stages.items()))}")
    print(f"  max wall time per answer: math-verify stage {stats['max_answer_s']:.2f} s, "
          f"in-process stages {max_quick * 1000:.1f} ms; worker restarts {stats['restarts']}")
    print(f"  injected command ran: {os.path.exists(marker)}")

    # The same kinds of hostile answers with the cheap guard off: they reach sympy, so the hard timeout must hold.
    hard = [adversarial(rng, marker, kinds=(0, 1, 2, 5)) for _ in range(args.unguarded)]
    t = time.perf_counter()
    with GraderPool(args.workers, args.timeout, guard=False) as pool:
        res = pool.grade(hard, ["42"] * len(hard))
        stats = dict(pool.stats)
    hard_s = time.perf_counter() - t
    count = {k: sum(r.stage == k for r in res) for k in sorted({r.stage for r in res})}
    print(f"unguarded: {len(hard)} nesting/power/factorial/injection answers in {hard_s:.1f} s: {count}; "
          f"rewards {sum(r.reward for r in res):.0f}")
    print(f"  max wall time per answer {stats['max_answer_s']:.2f} s (timeout {args.timeout} s); worker restarts "
          f"{stats['restarts']}; injected command ran: {os.path.exists(marker)}")
    failed = [why for why, bad in (("pool and single process disagree", agree != args.n), ("crashes", crashes),
                                   ("an injected command ran", os.path.exists(marker))) if bad]
    if failed:
        print("FAILED: " + "; ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
