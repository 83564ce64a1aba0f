"""GraderPool: hard timeouts, hung and dead workers, threads, pathological and hostile input, authorship."""

import os
import signal
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tandem_rl.rewards import GraderPool, RewardResult, grade

TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def pool():
    with GraderPool(workers=2, timeout_s=TIMEOUT_S) as p:
        yield p


def test_pool_agrees_with_in_process_grading(pool):
    cases = [(r"\boxed{\{2,1\}}", r"\{1,2\}"), (r"\boxed{0.5}", r"\frac12"), (r"\boxed{x^2+1}", "1+x^2"),
             (r"\boxed{(0,1)}", "[0,1]"), ("none", "1"), (r"\boxed{7}", "8")]
    got = pool.grade([c[0] for c in cases], [c[1] for c in cases])
    want = [grade(*c) for c in cases]
    assert [(g.reward, g.stage) for g in got] == [(w.reward, w.stage) for w in want]
    assert [g.reward for g in got] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_gsm8k_format_through_the_pool(pool):
    res = pool.grade(["48/2 = 24 clips\n#### 72", "#### 1,250", r"\boxed{72}"], ["72", "1250", "72"],
                     answer_format="gsm8k")
    assert [(r.reward, r.extracted) for r in res] == [(1.0, "72"), (1.0, "1,250"), (0.0, None)]


def test_length_mismatch_is_an_error(pool):
    with pytest.raises(ValueError):
        pool.grade(["a"], ["1", "2"])


PATHOLOGICAL = [r"\boxed{9^{9^{9^9}}}", r"\boxed{1000000!}", r"\boxed{" + "{" * 200 + "1" + "}" * 200 + "}",
                r"\boxed{" + "(" * 40 + "1" + ")" * 40 + "}", r"\boxed{10^{10^{10}}}", r"\boxed{(10^{10})!}",
                r"\boxed{" + "x+" * 400 + "1}", r"\boxed{\frac{\frac{\frac{\frac{1}{2}}{3}}{4}}{5}}" * 50]


def test_pathological_answers_score_zero_within_the_timeout(pool):
    start = time.monotonic()
    res = pool.grade(PATHOLOGICAL, ["5"] * len(PATHOLOGICAL))
    elapsed = time.monotonic() - start
    assert all(r.reward == 0.0 for r in res)
    # worst case: every answer runs into the timeout, two workers in parallel (plus worker restarts)
    assert elapsed < TIMEOUT_S * len(PATHOLOGICAL) + 30


INJECTIONS = [
    "__import__('os').system('touch {f}')",
    "exec(\"open('{f}','w')\")",
    "eval('open(\\'{f}\\', \\'w\\')')",
    "os.system('touch {f}')",
    "(lambda: open('{f}', 'w'))()",
    "getattr(__builtins__, 'open')('{f}', 'w')",
    "\\input{{{f}}}",
    "$(touch {f})",
]


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_strings_are_never_executed(pool, tmp_path, template):
    target = tmp_path / "pwned"
    payload = template.format(f=target)
    res = pool.grade([rf"\boxed{{{payload}}}", payload, r"\boxed{1}"], ["1", "1", payload])
    assert all(r.reward == 0.0 for r in res)
    assert grade(rf"\boxed{{{payload}}}", payload).stage in ("string", "rejected", "mismatch", "error")
    assert not target.exists()


def test_hung_worker_times_out_and_is_replaced(pool):
    pool.warm_up()
    victim = pool._pool[0].proc.pid
    os.kill(victim, signal.SIGSTOP)  # a worker that never answers, as sympy stuck in C code would
    try:
        res = pool.grade([rf"\boxed{{x^2+{i}}}" for i in range(4)], [f"{i}+x^2" for i in range(4)])
    finally:
        try:
            os.kill(victim, signal.SIGCONT)
        except ProcessLookupError:
            pass
    timed_out = [r for r in res if r.timed_out]
    assert len(timed_out) == 1 and timed_out[0].stage == "timeout" and timed_out[0].reward == 0.0
    assert sum(r.reward for r in res) == 3.0
    assert all(w.proc.pid != victim for w in pool._pool)
    assert pool.grade([r"\boxed{\{3,4\}}"], [r"\{4,3\}"])[0].reward == 1.0


def test_dead_worker_is_replaced(pool):
    pool.warm_up()
    os.kill(pool._pool[1].proc.pid, signal.SIGKILL)
    pool._pool[1].proc.wait(timeout=10)
    res = pool.grade([rf"\boxed{{\{{{i},9\}}}}" for i in range(4)], [rf"\{{9,{i}\}}" for i in range(4)])
    assert all(isinstance(r, RewardResult) for r in res)
    assert sum(r.reward for r in res) == 4.0  # an idle worker's death costs no answer
    assert pool.grade([r"\boxed{(1,2]}"], ["(1, 2]"])[0].reward == 1.0


def test_timeouts_work_from_a_non_main_thread(pool):
    out = []
    pool.warm_up()
    victim = pool._pool[0].proc.pid
    os.kill(victim, signal.SIGSTOP)

    def run():
        out.append(pool.grade([r"\boxed{x+1}", r"\boxed{x+2}"], ["1+x", "2+x"]))

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive()
    assert sum(r.timed_out for r in out[0]) <= 1 and sum(r.reward for r in out[0]) >= 1.0


def test_answer_author_from_char_authors(pool):
    text = r"so \boxed{12} yes"
    who = np.zeros(len(text), dtype=np.uint8)
    start = text.index("12")
    senior, mixed = who.copy(), who.copy()
    senior[start:start + 2] = 1
    mixed[start] = 1
    res = pool.grade([text, text, text, "no answer"], ["12"] * 4, char_authors=[senior, mixed, who, who[:9]])
    assert [r.answer_author for r in res] == ["senior", "mixed", "junior", None]
    with pytest.raises(ValueError, match="char_authors\\[0\\]"):
        pool.grade([text], ["12"], char_authors=[senior[:-1]])


def test_unguarded_tower_hits_the_hard_timeout():
    with GraderPool(workers=1, timeout_s=1.0, guard=False) as p:
        start = time.monotonic()
        [r] = p.grade([r"\boxed{2^{2^{2^{2^{2^{2}}}}}}"], ["5"])
        assert r.reward == 0.0 and r.stage in ("timeout", "error")
        assert time.monotonic() - start < 60  # start-up + one timeout, not a hang
        assert p.grade([r"\boxed{\{1,2\}}"], [r"\{2,1\}"])[0].reward == 1.0


def test_workers_zero_grades_with_a_helper_process():
    from tandem_rl.rewards.config import RewardConfig

    with GraderPool.from_config(RewardConfig(workers=0, timeout_s=TIMEOUT_S)) as p:
        res = p.grade([r"\boxed{0.5}", r"\boxed{\{1,2\}}"], ["1/2", r"\{2,1\}"])
        assert [r.reward for r in res] == [1.0, 1.0]
        assert len(p._pool) == 1  # started on first need


_PIECES = list("0123456789xyz+-*/^_{}()[]\\!.,=<> é∞") + ["\\frac", "\\sqrt", "\\boxed{", "\\pi", "\\infty",
                                                             "\\{", "\\}", "\\text{", "\\left(", "\\right)"]
latexish = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(latexish, latexish), min_size=1, max_size=4))
def test_grading_never_raises(pool, pairs):
    res = pool.grade([rf"\boxed{{{p}}}" for p, _ in pairs], [g for _, g in pairs])
    assert len(res) == len(pairs)
    assert all(r.reward in (0.0, 1.0) for r in res)
