"""The one place that chooses the engine for a senior/junior pair: lockstep when they share a tokenizer.

    gen = co_generator(senior, junior, senior_tok, junior_tok, decode="dynamic")
    type(gen).__name__   # "CoGenerator" (one vocabulary) or "CrossTokenGenerator" (docs/engine.md)

Both have ``generate(prompts, rollout, seed=...) -> Rollouts`` with prompts and responses in the senior's ids,
``tables(rule)``, ``eos_token_ids`` and ``pad_token_id``, so the trainer and the evaluator never branch on which
one they hold. Same-tokenizer pairs (and ``junior_tokenizer=None``) get exactly the engine they had before.
"""

from __future__ import annotations

from tandem_rl.cogen import engine
from tandem_rl.cogen.crosstok import CrossTokenGenerator
from tandem_rl.cogen.vocab import same_vocab


def co_generator(senior, junior, tokenizer, junior_tokenizer=None, **engine_kw):
    """``CoGenerator`` unless ``junior_tokenizer`` maps some id to another string than ``tokenizer``; then
    ``CrossTokenGenerator`` (which refuses ``decode`` other than "dynamic", with a message)."""
    if junior is None or junior_tokenizer is None or same_vocab(tokenizer, junior_tokenizer):
        return engine.CoGenerator(senior, junior, tokenizer, **engine_kw)  # looked up now: tests may stand in
    return CrossTokenGenerator(senior, junior, tokenizer, junior_tokenizer, **engine_kw)
