"""Adapters that put the tandem co-generation engine inside other training stacks.

- ``trl.py``: a ``rollout_func`` for Hugging Face TRL's ``GRPOTrainer`` (``pip install -e ".[trl]"``).
- ``trl_checks.py``: the supported TRL range and the setups the adapter refuses, with the reason for each.

Nothing here is imported by the rest of tandem_rl, and importing this package does not import TRL.
How the same approach maps onto verl's agent loop and SkyRL's generator: docs/integrations.md.
"""
