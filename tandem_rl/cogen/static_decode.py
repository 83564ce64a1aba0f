"""Fixed-shape decoding for one model: a reusable transformers ``StaticCache`` and an optionally compiled step.

Why: eager decoding with a growing ``DynamicCache`` spends each step on Python and many small kernel launches, and
its shapes change every step; on a GPU that overhead, not arithmetic, can dominate a small-batch decode step. With a
cache preallocated to the call's full width and the full-width attention mask, every decode step has identical
shapes, so the step can be compiled once (``torch.compile``, mode "reduce-overhead" = CUDA graphs on CUDA) and
replayed.

    dec = StaticDecoder(model, vocab=len(tok), compile=True)
    dec.start(batch=8, max_len=width + max_new_tokens)   # the cache is reset and reused when the shape repeats
    logits = dec(ids, mask, pos)                           # prefill [B, width], eager
    logits = dec(tok[:, None], mask, next_pos[:, None])   # each decode step [B, 1], compiled; logits [B, vocab]

``mask`` is always the full-width buffer [B, max_len] (response columns already 1): the causal mask hides the
columns not yet written, so no step ever slices it. transformers 5.x models take no ``cache_position``: each
``StaticLayer`` keeps its write column as a device tensor (``cumulative_length``) and advances it in place, so the
compiled step needs no per-step Python integer either.

Recompiles: the compiled step is specialised (``dynamic=False``) to the batch size and the total width
``max_len``; a call with a new (batch, max_len) compiles once more (tens of seconds) and replaces the held cache.
Repeated calls with the same shape reuse both the compiled step and the cache tensors (stable addresses, which
CUDA graphs need). Graphs are keyed by architecture and shape, not by the weights (parameters are graph inputs), so a
second model of the same architecture reuses them. torch.compile keeps at most ``torch._dynamo.config.recompile_limit``
(8) graphs for the step in the whole process (senior and junior count separately): a tandem run allows 4
(batch, width) shapes, and the next one raises ``RuntimeError`` (use a larger ``pad_multiple`` or a fixed batch)
when compiled with ``fullgraph`` (the model's ``_can_compile_fullgraph``), else falls back to eager with a warning.
"""

from __future__ import annotations

import inspect
from typing import Optional

import torch

from tandem_rl.cogen.config import DECODE_MODES  # noqa: F401  (re-exported: the engine's decode modes)
# With fullgraph=True, torch raises this instead of silently falling back to eager once a function has too many shapes.
_RECOMPILE_LIMIT = getattr(torch._dynamo.exc, "FailOnRecompileLimitHit", ())


def forward_kwargs(model) -> tuple[str, Optional[str]]:
    """The name of the cache argument (renamed in transformers 5.x) and of the logits-to-keep argument, if any."""
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    keep_kw = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
    return cache_kw, keep_kw


def check_static_support(model, role: str) -> None:
    """Raise ``ValueError`` unless ``model`` can decode with a full-attention ``StaticCache`` (transformers >= 5).

    Sliding-window, chunked, linear-attention (recurrent) and other stateful layers are refused: their caches do not
    hold one key/value row per column of the full-width mask, and their exactness against the dynamic path is untested.
    """
    import transformers
    from transformers.cache_utils import StaticCache, StaticLayer

    if int(transformers.__version__.split(".")[0]) < 5:
        raise ValueError(f"decode='static'/'compiled' needs transformers >= 5 (StaticCache with lazy allocation and "
                         f"no cache_position); found {transformers.__version__}")
    name = type(model).__name__
    if getattr(model, "_is_stateful", False):
        raise ValueError(f"{role} model {name} is stateful (recurrent layers): it cannot decode with a StaticCache; "
                         f"use decode='dynamic'")
    try:
        layers = StaticCache(config=model.config, max_cache_len=1).layers
    except Exception as e:  # noqa: BLE001 - any failure here means the config has no static cache layout
        raise ValueError(f"{role} model {name}: transformers cannot build a StaticCache for its config ({e}); "
                         f"use decode='dynamic'") from e
    other = sorted({type(layer).__name__ for layer in layers if type(layer) is not StaticLayer})
    if other:
        raise ValueError(f"{role} model {name} has cache layers of type {other}: decode='static'/'compiled' supports "
                         f"full-attention layers only (StaticLayer); use decode='dynamic'")


class StaticDecoder:
    """One model's static-cache decoding state, kept across ``generate`` calls so that shapes and addresses repeat.

    Args:
        model: an HF causal LM that passed ``check_static_support``.
        vocab: the real vocabulary size; returned logits are ``[:, :vocab]`` (padded output rows dropped).
        compile: compile the single-token decode step (the prefill always runs eagerly: its width varies).
    """

    def __init__(self, model, *, vocab: int, compile: bool = False):
        self.model, self.vocab, self.compile = model, int(vocab), bool(compile)
        self.cache_kw, self.keep_kw = forward_kwargs(model)
        self.device = next(model.parameters()).device
        self.cudagraphs = self.compile and self.device.type == "cuda"
        self.cache = None
        self.shape: Optional[tuple[int, int]] = None  # (batch, max_len) the held cache was built for
        self._step = None  # the compiled step, built on first use
        self._prefilled = False

    def start(self, batch: int, max_len: int):
        """Prepare the cache for a call of ``batch`` rows and ``max_len`` columns (prompt width + new tokens)."""
        from transformers import StaticCache

        if self.cache is not None and self.shape == (batch, max_len):
            self.cache.reset()  # zero in place: same tensors, so compiled graphs and CUDA graphs stay valid
        else:
            self.cache = StaticCache(config=self.model.config, max_cache_len=max_len)  # allocated at the prefill
            self.shape = (batch, max_len)
        self._prefilled = False
        return self.cache

    def release(self) -> None:
        """Drop the held cache (its memory); the next ``start`` allocates a new one (CUDA graphs re-record)."""
        self.cache, self.shape, self._prefilled = None, None, False

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """First call after ``start``: the prefill (eager); then one decode step per call. Returns [B, vocab]."""
        if self.cache is None:
            raise RuntimeError("StaticDecoder: call start(batch, max_len) before decoding")
        if mask.shape != self.shape:
            raise ValueError(f"the attention mask must be the full-width buffer {list(self.shape)}, "
                             f"got {list(mask.shape)}")
        if not self._prefilled:
            self._prefilled = True
            out = self.model(**self._kwargs(ids, mask, pos))
            cache = getattr(out, "cache", None)
            if (cache if cache is not None else out.past_key_values) is not self.cache:
                raise RuntimeError(f"{type(self.model).__name__} did not use the StaticCache it was given")
            return out.logits[:, -1, : self.vocab]
        if ids.shape[1] != 1:
            raise ValueError(f"a decode step takes one token per row, got input_ids of shape {list(ids.shape)}")
        if not self.compile:
            return self._forward(ids, mask, pos)
        if self._step is None:
            self._step = torch.compile(self._forward, mode="reduce-overhead" if self.cudagraphs else None,
                                       fullgraph=bool(getattr(self.model, "_can_compile_fullgraph", False)),
                                       dynamic=False)
        try:
            if self.cudagraphs:
                torch.compiler.cudagraph_mark_step_begin()
                return self._step(ids, mask, pos).clone()  # the graph's output buffer is overwritten on next replay
            return self._step(ids, mask, pos)
        except _RECOMPILE_LIMIT as e:
            raise RuntimeError(
                f"torch.compile reached its recompile limit (torch._dynamo.config.recompile_limit = "
                f"{torch._dynamo.config.recompile_limit}) at a new decode shape (batch, width) = {self.shape}: each "
                f"new batch size or prompt width + max_new_tokens compiles once more. Keep shapes few (a larger "
                f"pad_multiple, a fixed batch size), raise the limit, or use decode='static'") from e

    def _forward(self, ids, mask, pos) -> torch.Tensor:
        return self.model(**self._kwargs(ids, mask, pos)).logits[:, -1, : self.vocab]

    def _kwargs(self, ids, mask, pos) -> dict:
        kw = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "use_cache": True,
              self.cache_kw: self.cache}
        if self.keep_kw:
            kw[self.keep_kw] = 1
        return kw
