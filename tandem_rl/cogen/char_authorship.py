"""Authorship kept per byte of the co-written text, and what it means for tokens and characters.

When the two models have different tokenizers (``crosstok.py``), a token of one model can hold text that both wrote
(token healing, or simply a boundary inside what is one token for the other model). So authorship lives on the
text: one author per byte (1 = senior, 0 = junior). From it:

- ``token_authors``: the senior's loss mask over *its* tokens of the text. A token is the senior's (1) only if the
  senior wrote **every** byte of it; a token holding any junior byte is the junior's (0) - fails closed, so the
  senior is never trained on text it did not write. Tokens with bytes from both are counted as ``mixed``.
  A token without bytes (a special token) takes the author that emitted it (``empty_author``).
- ``response_texts``: what grading reads per row (the engine's per-character record when it has one).
- ``char_authors``: one author per character of the decoded text, a character being the senior's only if all its
  bytes are (what grading and the report read; ``rewards.answer_author``).

Worked example (senior wrote "The c", junior wrote "at"; the senior's tokenizer has " cat" as one token)::

    byte_author = [1, 1, 1, 1, 1, 0, 0]                # b"The cat"
    token_authors([b"The", b" cat"], byte_author)       # (array([1, 0]), 1): " cat" is mixed, excluded
    char_authors(b"The cat", byte_author)               # ("The cat", array([1, 1, 1, 1, 1, 0, 0]))
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from tandem_rl.cogen.rollouts import JUNIOR, SENIOR, Rollouts
from tandem_rl.rewards.authorship import char_authors as token_char_authors


def token_authors(pieces: Sequence[bytes], byte_author, empty_author: Optional[Sequence[int]] = None,
                  ) -> tuple[np.ndarray, int]:
    """Per token: 1 iff every byte of it is the senior's; and the number of mixed tokens (bytes from both).

    ``pieces`` are the tokens' bytes in order and must join to the text ``byte_author`` describes.
    """
    who = np.asarray(byte_author, dtype=np.uint8)
    total = sum(len(p) for p in pieces)
    if total != len(who):
        raise ValueError(f"the tokens hold {total} bytes but byte_author has {len(who)}")
    out = np.zeros(len(pieces), dtype=np.uint8)
    mixed, pos = 0, 0
    for k, piece in enumerate(pieces):
        span = who[pos:pos + len(piece)]
        pos += len(piece)
        if span.size == 0:
            out[k] = empty_author[k] if empty_author is not None else JUNIOR
            continue
        senior = int(span.sum())
        out[k] = SENIOR if senior == span.size else JUNIOR
        mixed += int(0 < senior < span.size)
    return out, mixed


def char_authors(data: bytes, byte_author) -> Optional[tuple[str, np.ndarray]]:
    """The text of ``data`` and one author per character (senior only if all its bytes are); None if ``data`` is
    not valid UTF-8 (e.g. cut inside a character: the caller then falls back to token authorship)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    who = np.asarray(byte_author, dtype=np.uint8)
    out = np.empty(len(text), dtype=np.uint8)
    pos = 0
    for j, ch in enumerate(text):
        n = len(ch.encode("utf-8"))
        out[j] = SENIOR if who[pos:pos + n].all() else JUNIOR
        pos += n
    return text, out


def response_texts(tokenizer, rollouts: Rollouts) -> list[tuple[str, np.ndarray]]:
    """Per row, the decoded response and who wrote each character: the engine's own per-character record when it
    kept one (pairs with different tokenizers), else derived from the per-token authors (``rewards.char_authors``).
    """
    if rollouts.char_author is not None:
        return list(rollouts.char_author)
    return [token_char_authors(tokenizer, list(ids), a) for ids, a in zip(rollouts.response_ids, rollouts.author)]


def utf8_complete(data: bytes | bytearray) -> bool:
    """True if ``data`` does not end inside a UTF-8 character (so a handoff may happen here).

    >>> utf8_complete("é".encode()[:1]), utf8_complete("é".encode())
    (False, True)
    """
    tail = bytes(data[-4:])
    for k in range(1, len(tail) + 1):  # the last character's lead byte, k bytes from the end
        b = tail[-k]
        if b & 0xC0 != 0x80:
            need = 1 if b < 0x80 else 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 \
                else 1
            return k >= need
    return True  # empty, or only continuation bytes (invalid anyway): nothing to wait for
