"""The embedded default world: a seeded synthetic math world where the tandem effect shows in minutes on a CPU.

    from tandem_rl.world import check_steps, write_problems
    write_problems("w.jsonl", n=100, seed=0, split="test")     # jsonl rows: id, problem, answer, n_ops, key
    check_steps(" <<20-2=18>>\\n\\n <<18-1=16>>\\n\\n \\\\boxed{17}").n_false   # 1
    asset_dir("senior")                                         # tandem_rl.world.assets: the shipped HF folders

Modules: ``problems`` (problems and the plain / jargon / terse notations), ``tokenizer`` (the world's byte-level
BPE), ``sft`` + ``recipe`` (training the tiny junior and senior; ``tandem-rl world build``), ``card`` (a rebuilt
world against the shipped card; ``tandem-rl world compare``), ``steps`` (the step checker for faithfulness),
``breakdown`` (accuracy per problem size and notation; ``tandem-rl world breakdown``), ``demo`` (``tandem-rl demo``),
``assets`` (shipped files). See docs/world.md.
"""

from tandem_rl.world.problems import (INSTRUCTION, jargon_solution, notation_of, plain_solution, terse_solution,
                                      write_problems)
from tandem_rl.world.steps import StepCheck, check_steps, faithfulness, step_counts

__all__ = ["INSTRUCTION", "jargon_solution", "notation_of", "plain_solution", "terse_solution", "write_problems",
           "StepCheck", "check_steps", "faithfulness", "step_counts"]
