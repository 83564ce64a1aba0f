"""Verifiable math rewards: extract the last boxed answer, grade it against the gold, say who wrote it.

    from tandem_rl.rewards import GraderPool, char_authors
    with GraderPool(workers=2, timeout_s=5.0) as pool:
        text, who = char_authors(tokenizer, response_ids, author)
        [res] = pool.grade([text], ["\\frac12"], char_authors=[who])
        res.reward, res.stage, res.answer_author      # 1.0, "symbolic", "senior"

Files: ``extract.py`` (finding the answer), ``normalize.py`` + ``numeric.py`` (stages 1-2), ``grader.py`` (the
chain and ``RewardResult``), ``pool.py`` + ``worker.py`` (processes, hard timeouts), ``authorship.py``, ``function_grader.py`` (your own rule
in place of the math grader).
"""

from tandem_rl.rewards.authorship import answer_author, char_authors
from tandem_rl.rewards.extract import Extraction, extract_answer, gold_answer, gsm8k_answer, last_boxed
from tandem_rl.rewards.function_grader import FunctionGrader
from tandem_rl.rewards.grader import STAGES, RewardResult, grade, quick_grade
from tandem_rl.rewards.pool import GraderPool

__all__ = ["GraderPool", "FunctionGrader", "RewardResult", "STAGES", "grade", "quick_grade", "char_authors", "answer_author",
           "Extraction", "extract_answer", "gold_answer", "gsm8k_answer", "last_boxed"]
