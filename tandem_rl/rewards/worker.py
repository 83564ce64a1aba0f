"""A grader worker process: ``python -m tandem_rl.rewards.worker [memory_limit_mb]``.

Speaks JSON lines. It writes ``{"ready": true}`` once math-verify is imported and warm, then answers each request
``{"id": 7, "pred": "0.5", "gold": "\\\\frac12", "fmt": "boxed"}`` with ``{"id": 7, "reward": 1.0, "stage":
"math_verify"}``. The parent (``pool.py``) kills it when an answer runs past the timeout; nothing here needs to
cooperate, which is the point: sympy can sit in C code where no signal or thread can stop it.

A plain subprocess (not ``multiprocessing``) so that starting one never re-imports the caller's ``__main__`` and
works from any thread. The real stdout is kept for the protocol; fd 1 is pointed at stderr so that a stray
``print`` in a library cannot corrupt it. An address-space limit turns a runaway allocation into a MemoryError
(graded as ``error``) instead of the machine's OOM killer.
"""

from __future__ import annotations

import json
import os
import sys


def _limit_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = megabytes * 1024 * 1024
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    except (ImportError, ValueError, OSError):  # not available on this platform: rely on the timeout alone
        pass


def _exit_with_parent() -> None:
    """Exit when the parent process goes away, even while an answer is still being graded.

    A watchdog thread polls the parent pid; it runs whenever sympy is in Python code (the GIL switches). Linux's
    PR_SET_PDEATHSIG would also catch C code, but it fires when the *thread* that started the worker exits, and
    pools are used from many threads. Sympy stuck in C long enough ends in the address-space limit anyway.
    """
    import threading
    import time

    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    _exit_with_parent()
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from tandem_rl.rewards.grader import finish_with_math_verify  # after the redirect: imports may print

    finish_with_math_verify("1/2", "0.5")  # warm up: the first math-verify call costs ~70 ms of imports
    _limit_memory(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    protocol.write('{"ready": true}\n')
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        try:
            res = finish_with_math_verify(req["pred"], req["gold"], req.get("fmt", "boxed"))
            out = {"id": req["id"], "reward": res.reward, "stage": res.stage}
        except MemoryError:
            out = {"id": req["id"], "reward": 0.0, "stage": "error"}
        protocol.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
