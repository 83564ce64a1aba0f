"""Per-token tables the schedules read, built once from the vocabulary, and the senior/junior vocabulary check.

A schedule looks up the token just emitted in boolean tables indexed by token id (on the model's device), so the
decode loop never decodes text. Worked example on GPT-2's byte-level BPE::

    tok.convert_ids_to_tokens([464, 3290, 198, 628])   # ['The', 'Ġdog', 'Ċ', 'ĊĊ']
    tables = token_tables(tok)
    tables.word_start[[464, 3290, 198, 628]]            # [False, True, False, False]   (rule "marker", the paper's)
    tables.ends_blank_line[[464, 3290, 198, 628]]       # [False, False, False, True]   ("\\n\\n" ends the text)
    tables.is_newline[198]                              # True: "\\n" completes a blank line after a "...\\n" token

Word-start rules (``RolloutConfig.word_start``):
- ``"marker"`` (the paper's; default): the token's surface string begins with the byte-level BPE space marker ``Ġ``
  (U+0120) or the SentencePiece marker ``▁`` (U+2581). Special tokens never start a word. For Qwen3 this gives
  exactly the 53,021 ids of the authors' published set (CSSLab/Tandem-RLVR, train/assets/build_word_boundary_ids.py).
  A vocabulary with neither marker anywhere falls back to the ``"whitespace"`` rule.
- ``"whitespace"``: the marker rule OR the token's decoded text begins with any whitespace (so newline- and
  tab-initial tokens also trigger a redraw). Qwen3: 54,409 ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tandem_rl.cogen.config import WORD_START_RULES

SPACE_MARKERS = ("\u0120", "\u2581")  # Ġ (byte-level BPE), ▁ (SentencePiece)


@dataclass
class TokenTables:
    """Boolean lookup tables over the real vocabulary (length ``vocab_size``), all on one device.

    Attributes:
        word_start: the token begins a new word (see the module docstring for the rule).
        ends_blank_line: the token's decoded text ends with ``"\\n\\n"``.
        ends_newline: the token's decoded text ends with ``"\\n"``.
        is_newline: the token's decoded text is exactly ``"\\n"``; with a previous token in ``ends_newline`` it
            completes a blank line.
    """

    word_start: torch.Tensor
    ends_blank_line: torch.Tensor
    ends_newline: torch.Tensor
    is_newline: torch.Tensor

    @property
    def vocab_size(self) -> int:
        return int(self.word_start.numel())

    def to(self, device) -> "TokenTables":
        return TokenTables(*(t.to(device) for t in (self.word_start, self.ends_blank_line, self.ends_newline,
                                                    self.is_newline)))


def vocab_size(tokenizer) -> int:
    """Number of real token ids (regular + added/special): ``len(tokenizer)``, not the padded embedding size."""
    return len(tokenizer)


def token_tables(tokenizer, word_start: str = "marker") -> TokenTables:
    """Build the schedule tables for every id in ``range(len(tokenizer))`` (~0.7 s for Qwen's 151k tokens)."""
    if word_start not in WORD_START_RULES:
        raise ValueError(f"rollout.word_start {word_start!r} is not one of {WORD_START_RULES}")
    n = vocab_size(tokenizer)
    ids = list(range(n))
    surfaces = [s or "" for s in tokenizer.convert_ids_to_tokens(ids)]
    # One id at a time, so a token's text does not depend on its neighbours; specials kept as their literal text.
    texts = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    special |= {i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if getattr(t, "special", False)}
    has_marker = any(s.startswith(SPACE_MARKERS) for s in surfaces)
    use_ws = word_start == "whitespace" or not has_marker
    ws = [(i not in special) and (s.startswith(SPACE_MARKERS) or (use_ws and t[:1].isspace()))
          for i, (s, t) in enumerate(zip(surfaces, texts))]
    return TokenTables(
        word_start=torch.tensor(ws, dtype=torch.bool),
        ends_blank_line=torch.tensor([t.endswith("\n\n") for t in texts], dtype=torch.bool),
        ends_newline=torch.tensor([t.endswith("\n") for t in texts], dtype=torch.bool),
        is_newline=torch.tensor([t == "\n" for t in texts], dtype=torch.bool),
    )


def same_vocab(tok_a, tok_b) -> bool:
    """True when two tokenizers map every id to the same token string (then one id stream serves both models)."""
    if tok_a is tok_b:
        return True
    n = vocab_size(tok_a)
    return n == vocab_size(tok_b) and (tok_a.convert_ids_to_tokens(list(range(n)))
                                       == tok_b.convert_ids_to_tokens(list(range(n))))


def check_same_vocab(senior_tokenizer, junior_tokenizer) -> None:
    """Raise ValueError naming what differs when two tokenizers do not map the same strings to the same ids.

    >>> check_same_vocab(gpt2_tok, qwen_tok)
    ValueError: senior and junior tokenizers differ: sizes 50257 vs 151646; first differing ids: 0 ('!' vs ...)
    """
    a, b = senior_tokenizer, junior_tokenizer
    na, nb = vocab_size(a), vocab_size(b)
    sa = a.convert_ids_to_tokens(list(range(na)))
    sb = b.convert_ids_to_tokens(list(range(nb)))
    diff = [i for i in range(min(na, nb)) if sa[i] != sb[i]]
    if na == nb and not diff:
        return
    shown = ", ".join(f"{i} ({sa[i]!r} vs {sb[i]!r})" for i in diff[:5]) or "none among the shared ids"
    raise ValueError(f"senior and junior tokenizers differ: sizes {na} vs {nb}; {len(diff)} differing ids, first: "
                     f"{shown}. The lockstep engine needs one shared vocabulary (Jiao et al. 2026, Limitations); a junior with "
                     f"its own tokenizer co-writes through cogen.pairing.co_generator (docs/engine.md).")


def model_vocab_size(model) -> int:
    """Rows of the model's output layer (often padded beyond the tokenizer: Qwen3 151,936 vs 151,669)."""
    out = model.get_output_embeddings()
    if out is not None and getattr(out, "weight", None) is not None:
        return int(out.weight.shape[0])
    return int(model.config.get_text_config().vocab_size)


def check_model_vocab(model, tokenizer, role: str) -> None:
    """The model must produce a logit for every real token id; extra (padding) rows are ignored by the engine."""
    n, m = vocab_size(tokenizer), model_vocab_size(model)
    if m < n:
        raise ValueError(f"{role} model has {m} output logits but the tokenizer has {n} tokens: they do not share "
                         f"a vocabulary (ids {m}..{n - 1} could never be scored by the {role})")
