"""A self-contained HTML report from evaluation folders and training run folders.

    from tandem_rl.report.page import build_report
    build_report(["evals/demo", "runs/grpo", "runs/tandem"], out="report.html", k=4)

Files: ``sources.py`` (reading folders), ``tables.py``, ``figures.py`` (PNG via matplotlib Agg),
``transcripts.py`` (two-colour co-written text, escaped), ``page.py`` (the page), ``command.py`` (``tandem-rl report``).
"""
