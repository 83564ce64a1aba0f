"""The worked examples in the trainer's docstrings are run, so they cannot drift from the code."""

import doctest
import importlib

import pytest

MODULES = ["tandem_rl.grpo.advantages", "tandem_rl.grpo.loss", "tandem_rl.train.batch", "tandem_rl.train.build",
           "tandem_rl.train.data_order", "tandem_rl.train.parallel.ranks", "tandem_rl.train.logprobs",
           "tandem_rl.train.metrics", "tandem_rl.train.parallel.fsdp2", "tandem_rl.train.validate",
           "tandem_rl.train.evaluate", "tandem_rl.train.checkpoint", "tandem_rl.rewards.extract",
           "tandem_rl.data.olympiadbench", "tandem_rl.eval.summary", "tandem_rl.eval.runner",
           "tandem_rl.eval.anatomy", "tandem_rl.train.credit", "tandem_rl.train.rollout", "tandem_rl.world.sweep"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
