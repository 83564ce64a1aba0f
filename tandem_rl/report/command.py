"""`tandem-rl report DIR ... [--out report.html]`: one self-contained HTML page from eval and run folders.

    tandem-rl report evals/demo runs/grpo runs/tandem --out report.html --k 4
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("dirs", nargs="+", help="Evaluation folders (tandem-rl eval --out) and/or run folders.")
    parser.add_argument("--out", default="report.html", help="The HTML file; figures are written beside it as PNG.")
    parser.add_argument("--k", type=int, default=None,
                        help="The k of pass@k in the verdict and tables (default: the evaluation's eval.report_k, "
                             "else 4 as in the paper's Table 2).")
    parser.add_argument("--transcripts", type=int, default=6, help="How many co-written transcripts to show.")


def run(args) -> int:
    from tandem_rl.report.page import build_report  # imported when the command runs (a quick --help)

    path = build_report(args.dirs, out=args.out, k=args.k, max_transcripts=args.transcripts)
    print(f"wrote {path}")
    return 0
