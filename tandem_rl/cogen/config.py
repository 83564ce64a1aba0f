"""Rollout settings: the schedule that decides who writes each token, and each model's sampling settings.

``RolloutConfig.validate()`` is the one check of these settings: the engine runs it before every call, training and
evaluation before anything loads (they add only their own rules, e.g. training needs a temperature > 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

DECODE_MODES = ("dynamic", "static", "compiled")  # CoGenerator(decode=...): static_decode.py
WORD_START_RULES = ("marker", "whitespace")       # vocab.token_tables(word_start=...)


@dataclass
class RolloutConfig:
    schedule: str = field(default="word", metadata={"help": (
        "Who writes each token: solo (senior only = vanilla GRPO), junior (junior only), word (the paper's "
        "training schedule: author redrawn ~ Bernoulli(p) after each word-initial token or after redraw_cap tokens), "
        "token (per-token Bernoulli(p)), paragraph (reasoning-step handoff: senior first, strict alternation after "
        "each token that ends a blank line), chunk (chunk_size tokens per side, senior first). Jiao et al. 2026, §3.")})
    p: float = field(default=0.5, metadata={"help": "Probability that a redraw picks the senior (word/token). Paper: 0.5."})
    redraw_cap: int = field(default=32, metadata={"help": (
        "K: force a redraw after this many tokens without one, so long runs without spaces (LaTeX) are not "
        "monopolised. Paper: 32.")})
    chunk_size: int = field(default=16, metadata={"help": "Tokens per turn for the chunk schedule."})
    max_new_tokens: int = field(default=3000, metadata={"help": "Response budget per row. Paper: 3000."})
    temperature: float = field(default=0.6, metadata={"help": "Senior sampling temperature; 0 = greedy. Paper training: 0.6."})
    top_p: float = field(default=1.0, metadata={"help": "Senior nucleus sampling mass (1.0 = off)."})
    top_k: int = field(default=0, metadata={"help": "Senior top-k (0 = off)."})
    junior_temperature: Optional[float] = field(default=None, metadata={"help": (
        "Junior sampling temperature; null = same as the senior's.")})
    junior_top_p: Optional[float] = field(default=None, metadata={"help": "Junior top_p; null = same as the senior's."})
    junior_top_k: Optional[int] = field(default=None, metadata={"help": "Junior top_k; null = same as the senior's."})
    stop_token_ids: list[int] = field(default_factory=list, metadata={"help": (
        "Extra token ids that end a row (finish_reason 'stop'), besides the tokenizer's EOS ids.")})
    max_turns: Optional[int] = field(default=None, metadata={"help": (
        "paragraph schedule only: end a row after this many completed turns (each switch of author at a blank "
        "line completes one turn; finish_reason 'length'); null = no limit. Counts turns, not rounds: the paper's "
        "handoff cap of 150 rounds (a senior + a junior turn each) is 300 here (eval.max_rounds=150 sets it).")})
    word_start: str = field(default="marker", metadata={"help": (
        "Which tokens start a word for the word schedule: 'marker' = surface form begins with the byte-level BPE "
        "space marker (U+0120) or SentencePiece's (U+2581), exactly the paper's set (53,021 ids for Qwen3); "
        "'whitespace' = also tokens whose decoded text begins with any whitespace (newline, tab). Jiao et al. 2026.")})
    decode: str = field(default="dynamic", metadata={"help": (
        "Engine decoding, read when the trainer / evaluator builds its engine: 'dynamic' (growing KV caches, "
        "finished rows dropped), 'static' (preallocated StaticCache, fixed shapes) or 'compiled' (static + "
        "torch.compile of the decode step: CUDA graphs on GPUs). Same rollouts in every mode; 'compiled' is meant "
        "for GPUs and compiles once per (batch, width) shape. docs/engine.md.")})
    p_end: Optional[float] = field(default=None, metadata={"help": (
        "Training only: anneal p linearly from `p` to this value over training (null = constant p).")})

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        from tandem_rl.cogen import schedules  # here, not at the top: the config sections load without torch

        schedules.get(self.schedule)
        for name in ("p", "p_end"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"rollout.{name} must be in [0, 1], got {value}")
        for name in ("max_new_tokens", "redraw_cap", "chunk_size", "max_turns"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"rollout.{name} must be >= 1{' or null' if name == 'max_turns' else ''}, "
                                 f"got {value}")
        for prefix in ("", "junior_"):
            temperature, top_p, top_k = (getattr(self, prefix + k) for k in ("temperature", "top_p", "top_k"))
            if temperature is not None and temperature < 0:
                raise ValueError(f"rollout.{prefix}temperature must be >= 0 (0 = greedy), got {temperature}")
            if top_p is not None and not 0.0 < top_p <= 1.0:
                raise ValueError(f"rollout.{prefix}top_p must be in (0, 1], got {top_p}")
            if top_k is not None and top_k < 0:
                raise ValueError(f"rollout.{prefix}top_k must be >= 0 (0 = off), got {top_k}")
        if self.word_start not in WORD_START_RULES:
            raise ValueError(f"rollout.word_start {self.word_start!r} is not one of {WORD_START_RULES}")
        if self.decode not in DECODE_MODES:
            raise ValueError(f"rollout.decode {self.decode!r} is not one of {DECODE_MODES}")
