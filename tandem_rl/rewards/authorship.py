"""Who wrote which character of a co-written response, and so who wrote the boxed answer.

The engine records one author per *token* (1 = senior, 0 = junior). Grading works on *text*, so
``char_authors`` decodes the response and gives every character the author of the token that produced it::

    text, who = char_authors(tok, response_ids, np.array([1, 1, 0, 0]))
    len(who) == len(text)
    answer_author(who, start, end)   # "senior" | "junior" | "mixed" | None

The text is ``tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)``; special
tokens (EOS, pad) add no characters. Byte-level BPE tokens can split one UTF-8 character over several tokens: such a
character belongs to the token that completes it. Two ways to get there, both checked against the full decode:

* byte-level tokenizers (GPT-2 / Qwen / Llama-3 style): map every token back to its bytes, decode once: linear;
* anything else: incremental decoding over a small sliding window (a token's text is what it adds to the decode of
  the few tokens before it; a trailing incomplete character waits for the token that completes it), then, if that
  does not add up to the full decode, one prefix decode per token (slow, exact).
"""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np

_DECODE = dict(skip_special_tokens=True, clean_up_tokenization_spaces=False)


def decode_kwargs() -> dict:
    """How responses are decoded into the text that is graded (and whose characters authorship refers to)."""
    return dict(_DECODE)


@functools.lru_cache(maxsize=1)
def _byte_alphabet() -> dict[str, int]:
    """Byte-level BPE's reversible byte -> printable-character table, inverted (character -> byte).

    Printable Latin-1 bytes stand for themselves; the other 68 bytes are shifted to code points 256, 257, ... in
    byte order, so that no token string contains whitespace or control characters.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1), *range(ord("\u00ae"), 256)]
    table, shift = {}, 0
    for b in range(256):
        if b in keep:
            table[chr(b)] = b
        else:
            table[chr(256 + shift)] = b
            shift += 1
    return table


def _is_byte_level(tokenizer) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None) if backend is not None else None
    return decoder is not None and type(decoder).__name__ == "ByteLevel"


def _via_bytes(tokenizer, ids: list[int], author: np.ndarray, full: str) -> Optional[np.ndarray]:
    alphabet = _byte_alphabet()
    special = set(tokenizer.all_special_ids)
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    pieces, owner = [], []
    for t, tid in enumerate(ids):
        if tid in special:
            continue
        if tid in added:
            raw = str(added[tid]).encode("utf-8")
        else:
            s = tokenizer.convert_ids_to_tokens(tid)
            if s is None or any(c not in alphabet for c in s):
                return None
            raw = bytes(alphabet[c] for c in s)
        pieces.append(raw)
        owner.extend([t] * len(raw))
    data = b"".join(pieces)
    if data.decode("utf-8", errors="replace") != full:
        return None
    out = np.empty(len(full), dtype=np.uint8)
    pos = 0
    for j, ch in enumerate(full):
        enc = ch.encode("utf-8")
        if data[pos:pos + len(enc)] != enc:
            return None  # a replacement character for broken bytes: let the generic path decide
        pos += len(enc)
        out[j] = author[owner[pos - 1]]  # the token holding the last byte completes the character
    return out


def _incremental(tokenizer, ids: list[int], author: np.ndarray, full: str) -> Optional[np.ndarray]:
    out: list[int] = []
    start, shown = 0, ""  # decode window start; text of the window already handed out
    for t in range(len(ids)):
        cur = tokenizer.decode(ids[start:t + 1], **_DECODE)
        stable = cur.rstrip("\ufffd")  # a trailing partial character waits for the token that completes it
        if len(stable) > len(shown) and stable.startswith(shown):
            out.extend([int(author[t])] * (len(stable) - len(shown)))
            shown = stable
        if cur == stable and t + 1 - start > 8:  # nothing pending: slide the window, keep 4 tokens of context
            start = t + 1 - 4
            shown = tokenizer.decode(ids[start:t + 1], **_DECODE)
    if len(out) > len(full):
        return None
    out.extend([int(author[-1])] * (len(full) - len(out)))  # a dangling partial character at the very end
    return np.asarray(out, dtype=np.uint8)


def _prefixes(tokenizer, ids: list[int], author: np.ndarray, full: str) -> np.ndarray:
    out = np.zeros(len(full), dtype=np.uint8)
    done = 0
    for t in range(len(ids)):
        n = min(len(tokenizer.decode(ids[:t + 1], **_DECODE)), len(full))
        if n > done:
            out[done:n] = author[t]
            done = n
    out[done:] = author[-1] if len(ids) else 0
    return out


def char_authors(tokenizer, response_ids: list[int], author: np.ndarray) -> tuple[str, np.ndarray]:
    """The decoded response and one author (uint8, 1 = senior, 0 = junior) per character of it."""
    ids = [int(x) for x in response_ids]
    author = np.asarray(author)
    if len(author) != len(ids):
        raise ValueError(f"author has {len(author)} entries for {len(ids)} response tokens")
    full = tokenizer.decode(ids, **_DECODE)
    if not full:
        return full, np.zeros(0, dtype=np.uint8)
    out = _via_bytes(tokenizer, ids, author, full) if _is_byte_level(tokenizer) else None
    if out is None:
        out = _incremental(tokenizer, ids, author, full)
    if out is None:
        out = _prefixes(tokenizer, ids, author, full)
    return full, out


def answer_author(chars: np.ndarray, start: int, end: int) -> Optional[str]:
    """``"senior"``/``"junior"``/``"mixed"`` for the characters ``[start, end)``; None for an empty span.

    >>> answer_author(np.array([0, 1, 1, 0]), 1, 3), answer_author(np.array([0, 1, 1, 0]), 0, 2)
    ('senior', 'mixed')
    """
    span = np.asarray(chars)[start:end]
    if span.size == 0:
        return None
    has_senior, has_junior = bool((span == 1).any()), bool((span == 0).any())
    if has_senior and has_junior:
        return "mixed"
    return "senior" if has_senior else "junior"
