"""Evaluation: solo and handoff pass@k, legibility, drift, displacement, notation, faithfulness, with intervals.

    from tandem_rl.eval.runner import evaluate
    out = evaluate(cfg, {"grpo": "runs/grpo", "tandem": "runs/tandem"}, junior="world:junior",
                   base="world:senior", output_dir="evals/demo")

Files: ``passk.py`` (the unbiased estimator), ``bootstrap.py`` (intervals, paired differences, seeds),
``teacher_forcing.py`` (CE / KL / argmax under several models), ``displacement.py``, ``text_checks.py`` (notation,
step checker), ``records.py`` (per-sample JSON lines), ``summary.py`` (records -> metrics -> summaries),
``runner.py`` (``evaluate``), ``command.py`` (``tandem-rl eval``). Definitions: docs/evaluation.md.
"""
