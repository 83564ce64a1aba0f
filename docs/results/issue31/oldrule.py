"""The world's step checker without the budget rule: the anatomy as docs/sweep.md counted it before issue 31."""
from tandem_rl.world.steps import check_steps as _world_check


def check(text):
    return _world_check(text)
