"""The exact bytes of every token of a byte-level BPE tokenizer, lossless encoding, and token-healing lookups.

Cross-tokenizer co-writing (``crosstok.py``) works on the *bytes* of the shared text: each model's tokens are a
byte string, so "which characters did the senior write" and "which text has this model not read yet" are exact
byte ranges. Byte-level BPE (GPT-2, Llama 3, Qwen, SmolLM, Phi-4, OLMo, the world's tokenizer) maps every token
to bytes through a fixed 256-symbol alphabet; other tokenizer families (SentencePiece with a dummy prefix) are
refused with a message::

    tb = TokenBytes(tok)                   # tok: byte-level BPE, e.g. tests/tiny.py's tiny_tokenizer()
    tb.bytes_of(tok.encode(" apples"))     # b' apples'
    tb.encode(b" apples and")              # ids whose bytes join to exactly b' apples and'
    tb.starting_with(b" app")              # every non-special id whose bytes begin with b' app' (token healing)

Special tokens (EOS, pad, ChatML markers) have no bytes: they add nothing to the text, as in
``tokenizer.decode(..., skip_special_tokens=True)``. Added tokens that are not special keep their literal text.
"""

from __future__ import annotations

import bisect

import torch

from tandem_rl.cogen.vocab import vocab_size
from tandem_rl.rewards.authorship import _byte_alphabet, _is_byte_level  # the one byte-alphabet table


class TokenBytes:
    """Per-id bytes of one tokenizer, a sorted index for prefix queries, and a lossless ``encode``."""

    def __init__(self, tokenizer, role: str = "tokenizer"):
        if not _is_byte_level(tokenizer):
            raise ValueError(f"the {role} is not a byte-level BPE tokenizer (its decoder is not ByteLevel): "
                             "co-writing across tokenizers needs the exact bytes of every token. Byte-level BPE "
                             "(GPT-2, Llama 3, Qwen, SmolLM, Phi-4) is supported; use a junior with the senior's "
                             "tokenizer otherwise. docs/engine.md, 'Pairs with different tokenizers'.")
        self.tokenizer = tokenizer
        n = vocab_size(tokenizer)
        alphabet = _byte_alphabet()
        added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        special |= {i for i, t in added.items() if getattr(t, "special", False)}
        self.special = frozenset(i for i in special if 0 <= i < n)
        surfaces = tokenizer.convert_ids_to_tokens(list(range(n)))
        table: list[bytes] = []
        for i, s in enumerate(surfaces):
            if i in self.special or s is None:
                table.append(b"")
            elif i in added:
                table.append(str(added[i]).encode("utf-8"))
            else:
                table.append(bytes(alphabet[c] for c in s))
        self.table = table
        self.single = {}  # byte -> the id of the one-byte token (byte-level BPE has all 256)
        for i, b in enumerate(table):
            if len(b) == 1 and i not in added and b[0] not in self.single:
                self.single[b[0]] = i
        # sorted (bytes, id) of non-special, non-empty tokens: the ids starting with a prefix are one slice
        self._sorted = sorted((b, i) for i, b in enumerate(table) if b and i not in self.special)
        self._keys = [b for b, _ in self._sorted]

    def __len__(self) -> int:
        return len(self.table)

    def bytes_of(self, ids) -> bytes:
        """The text bytes of ``ids`` joined (special tokens add none)."""
        return b"".join(self.table[int(i)] for i in ids)

    def encode(self, data: bytes) -> list[int]:
        """Ids whose bytes join to exactly ``data``. Valid UTF-8 runs get the tokenizer's own encoding when it is
        lossless (no special tokens parsed out of the text, no normalisation), else one token per byte; bytes that
        are not valid UTF-8 (a model can write any byte sequence) get one token per byte, which byte-level BPE can
        always spell.

        >>> tb.bytes_of(tb.encode("é!".encode() + b"\xaa")) == "é!".encode() + b"\xaa"
        True
        """
        out: list[int] = []
        while data:
            try:
                text, rest, bad = data.decode("utf-8"), b"", b""
            except UnicodeDecodeError as err:
                text, bad, rest = data[:err.start].decode("utf-8"), data[err.start:err.end], data[err.end:]
            if text:
                ids = [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False)]
                raw = text.encode("utf-8")
                if self.bytes_of(ids) != raw or any(i in self.special for i in ids):
                    ids = [self.single[b] for b in raw]
                out += ids
            out += [self.single[b] for b in bad]
            data = rest
        return out

    def starting_with(self, prefix: bytes) -> torch.Tensor:
        """Ids (long tensor) of every non-special token whose bytes begin with ``prefix`` (never empty for a
        prefix that is itself a token's bytes). ``bisect``: two lookups in the sorted table, no vocabulary scan."""
        lo = bisect.bisect_left(self._keys, prefix)
        hi = lo
        while hi < len(self._keys) and self._keys[hi].startswith(prefix):
            hi += 1
        return torch.tensor([i for _, i in self._sorted[lo:hi]], dtype=torch.long)
