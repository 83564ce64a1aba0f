"""One model's batched KV cache when every row feeds its own number of tokens per step (cross-tokenizer decoding).

In lockstep each row feeds exactly one token per step. With a junior of another tokenizer (``crosstok.py``) a row
feeds what it has not read yet: its own last token, plus at a handoff the other model's text in its own tokens -
0, 1 or many tokens, different per row. ``RaggedStream.feed`` takes one chunk per row, right-aligns the chunks in a
[rows, longest chunk] block (pad ids in front, masked out) and runs one forward pass over it; the cache grows by
that width for every row, the attention mask keeps only real tokens and position ids count real tokens only, so
a row's logits are those of its real sequence alone (checked against uncached forwards in
tests/test_cogen_crosstok.py). Every row's last real token sits in the last column: one logit row per row
(``logits_to_keep=1``); a row that fed nothing keeps its previous logits::

    s = RaggedStream(model, vocab=len(tok), pad_id=0, clock=clock)
    s.feed([[5, 9, 2], [7]])          # prefill: prompts, left-padded (the same thing)
    s.feed([[11], []])                # row 0 feeds one token, row 1 nothing (its logits stay)
    s.feed([[12, 13, 14], [8]])       # a handoff chunk of 3 for row 0
    s.logits                          # [2, vocab] next-token logits of each row's real sequence

Memory: the cache is as wide as the sum of the steps' widths, wider than the longest real sequence (one long
handoff chunk pads every other row). When it grows past ``repack`` x the longest real sequence (+ 16), the stream
re-encodes every row's real tokens into a fresh, tight cache (one prefill pass, counted in the clock): the cache
then stays within about ``repack`` x what a lockstep cache of the same rows would hold. ``repack=0`` turns it off.
"""

from __future__ import annotations

from typing import Optional

import torch

from tandem_rl.cogen.static_decode import forward_kwargs


class RaggedStream:
    """Cache, attention mask, next position id and next-token logits of every row, on the model's device."""

    def __init__(self, model, *, vocab: int, pad_id: int, clock, repack: float = 2.0):
        self.model, self.vocab, self.pad_id, self.clock, self.repack = model, vocab, int(pad_id), clock, repack
        self.seqs: list[list[int]] = []             # each row's real tokens so far (for a repack)
        self.device = next(model.parameters()).device
        self.cache_kw, self.keep_kw = forward_kwargs(model)
        self.cache = None
        self.mask: Optional[torch.Tensor] = None    # [b, columns] long: 1 = a real token
        self.pos: Optional[torch.Tensor] = None     # [b] long: position id of each row's next token
        self.logits: Optional[torch.Tensor] = None  # [b, vocab] float32

    def feed(self, chunks: list[list[int]]) -> None:
        """Append ``chunks[i]`` (possibly empty) to row ``i``; rows that fed tokens get fresh logits."""
        lens = torch.tensor([len(c) for c in chunks], dtype=torch.long)
        width = int(lens.max()) if len(chunks) else 0
        if width == 0:
            return
        ids = torch.full((len(chunks), width), self.pad_id, dtype=torch.long)
        new = torch.zeros((len(chunks), width), dtype=torch.long)
        for i, c in enumerate(chunks):
            if c:
                ids[i, width - len(c):] = torch.tensor(c, dtype=torch.long)
                new[i, width - len(c):] = 1
        ids, new, lens = ids.to(self.device), new.to(self.device), lens.to(self.device)
        start = torch.zeros_like(lens) if self.pos is None else self.pos
        pos = (start.unsqueeze(-1) + new.cumsum(-1) - 1).clamp_min(0)  # pads (masked) take any position
        mask = new if self.mask is None else torch.cat([self.mask, new], dim=1)
        kw = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "use_cache": True}
        if self.cache is not None:
            kw[self.cache_kw] = self.cache
        if self.keep_kw:
            kw[self.keep_kw] = 1
        with self.clock(ids.numel()):
            out = self.model(**kw)
        cache = getattr(out, "cache", None)
        self.cache = cache if cache is not None else out.past_key_values
        self.mask, self.pos = mask, start + lens
        fresh = out.logits[:, -1, :self.vocab].float()
        self.logits = fresh if self.logits is None else torch.where((lens > 0).unsqueeze(-1), fresh, self.logits)
        self.seqs = [list(c) for c in chunks] if not self.seqs else [s + list(c) for s, c in zip(self.seqs, chunks)]
        longest = max(len(s) for s in self.seqs)
        if self.repack and mask.shape[1] > self.repack * longest + 16:
            self._repack()

    def _repack(self) -> None:
        """A fresh cache holding only each row's real tokens (left-padded): one prefill pass."""
        seqs = self.seqs
        self.cache = self.mask = self.pos = self.logits = None
        self.seqs = []
        self.feed(seqs)

    def select(self, rows: list[int]) -> None:
        """Keep only ``rows`` (finished rows dropped from the batch and the cache)."""
        keep = torch.tensor(rows, dtype=torch.long, device=self.device)
        self.cache.batch_select_indices(keep)
        self.mask, self.pos, self.logits = self.mask[keep], self.pos[keep], self.logits[keep]
        self.seqs = [self.seqs[r] for r in rows]
