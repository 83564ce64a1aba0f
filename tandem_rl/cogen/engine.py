"""Lockstep batched co-generation: a senior and a junior causal LM write one batch of responses together.

Each model keeps its own KV cache and ingests every emitted token, whoever wrote it, so at every step both models
have seen the same history and each step costs one single-token forward per model (no prefix recomputation).
Who writes position ``t`` is decided by the schedule (``schedules.py``) from the history alone, *before* sampling;
the written token is an unmodified draw from the author's own sampling distribution (``sampling.py``).

    gen = CoGenerator(senior, junior, tokenizer)
    out = gen.generate([[5, 9, 2], [7, 2]], RolloutConfig(schedule="word", max_new_tokens=64), seed=0)
    out.response_ids[0], out.author[0]      # e.g. [11, 12, 13, 2], array([1, 1, 0, 0], dtype=uint8)

Batching: prompts are left-padded; the attention mask hides the padding and position ids count real tokens only,
so a row's result does not depend on its neighbours. Every ``check_every`` steps the engine looks (one host sync)
at which rows have finished; it stops when all have, and drops finished rows from the batch and both KV caches
(``Cache.batch_select_indices``) once they are a quarter of it, so finished rows stop costing compute.
``decode="static"``/``"compiled"`` (``static_decode.py``) instead keeps every shape fixed (StaticCache, full-width mask,
no compaction) so that the decode step can be compiled / captured as a CUDA graph; the results are the same.
Randomness: token draws use a ``torch.Generator`` seeded with ``seed``; the schedule's coins use a second one, so
switching schedules does not shift the sampling stream. Both are drawn for the full batch every step and indexed by
row, so a row's draws do not depend on when other rows finish. Same seed, prompts, models -> same rollouts.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Optional

import torch
from tqdm.auto import tqdm

from tandem_rl.cogen import schedules
from tandem_rl.cogen.config import DECODE_MODES, RolloutConfig
from tandem_rl.cogen.rollouts import Rollouts
from tandem_rl.cogen.sampling import AuthorSampler, BatchDraws, raw_logprob
from tandem_rl.cogen.static_decode import StaticDecoder, check_static_support, forward_kwargs
from tandem_rl.cogen.vocab import TokenTables, check_model_vocab, check_same_vocab, token_tables

_REASONS = ("length", "eos", "stop")  # finish codes 0, 1, 2


def _model_device(model) -> torch.device:
    return next(model.parameters()).device


def _n_params(model) -> int:
    return int(sum(p.numel() for p in model.parameters())) if model is not None else 0


class _ForwardClock:
    """Wall time inside one model's forward passes, and the token positions they processed.

    On CUDA each pass is bracketed by two events (no host sync: the times are read once, in ``seconds``); on a CPU
    a pass is synchronous and ``time.perf_counter`` measures it. Positions count every input position (padding and
    finished rows not yet dropped included): in lockstep each model processes every token, whoever wrote it."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.cpu_seconds, self.positions, self.events = 0.0, 0, []

    @contextlib.contextmanager
    def __call__(self, positions: int):
        self.positions += int(positions)
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            self.events.append((start, end))
        else:
            t0 = time.perf_counter()
            yield
            self.cpu_seconds += time.perf_counter() - t0

    def seconds(self) -> float:
        if self.events:
            self.events[-1][1].synchronize()
            return self.cpu_seconds + sum(a.elapsed_time(b) for a, b in self.events) / 1000.0
        return self.cpu_seconds


@dataclass
class _Stream:
    """One model's decoding state: its cache and the logits for the next position, kept on its own device."""

    model: object
    device: torch.device
    cache_kw: str
    keep_kw: Optional[str]
    cache: object = None
    logits: Optional[torch.Tensor] = None  # [b, V] next-token logits (real vocabulary only)
    static: Optional[StaticDecoder] = None  # decode="static"/"compiled": fixed shapes, full-width mask, no compaction
    clock: Optional[_ForwardClock] = None

    @classmethod
    def of(cls, model, static: Optional[StaticDecoder] = None) -> "_Stream":
        cache_kw, keep_kw = forward_kwargs(model)
        device = _model_device(model)
        return cls(model, device, cache_kw, keep_kw, static=static, clock=_ForwardClock(device))

    def forward(self, ids, mask, pos, vocab: int) -> None:
        with self.clock(ids.numel()):
            self._forward(ids, mask, pos, vocab)

    def _forward(self, ids, mask, pos, vocab: int) -> None:
        if self.static is not None:
            self.logits = self.static(ids.to(self.device), mask.to(self.device), pos.to(self.device))
            return
        kw = {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device),
              "position_ids": pos.to(self.device), "use_cache": True}
        if self.cache is not None:
            kw[self.cache_kw] = self.cache
        if self.keep_kw:
            kw[self.keep_kw] = 1
        out = self.model(**kw)
        cache = getattr(out, "cache", None)
        self.cache = cache if cache is not None else out.past_key_values
        self.logits = out.logits[:, -1, :vocab]

    def select(self, rows: torch.Tensor) -> None:
        self.cache.batch_select_indices(rows.to(self.device))
        self.logits = self.logits[rows.to(self.device)]


@contextlib.contextmanager
def _eval_mode(models):
    """Eval mode (no dropout) for the duration; each model's train/eval mode is restored afterwards."""
    was = [m.training for m in models]
    try:
        for m in models:
            m.eval()
        yield
    finally:
        for m, w in zip(models, was):
            m.train(w)


class CoGenerator:
    """Senior + junior + their shared tokenizer; ``generate`` writes a batch of co-authored responses.

    Args:
        senior: HF causal LM (any architecture transformers supports).
        junior: HF causal LM sharing the tokenizer, or None (then only the ``solo`` schedule runs).
        tokenizer: the shared tokenizer; its ``len()`` is the real vocabulary (padded logits beyond it are ignored).
        eos_token_ids: ids that end a row with finish_reason "eos"; default: the tokenizer's EOS plus the senior's
            ``generation_config.eos_token_id`` (what HF ``generate`` stops on); ``[]`` = none (fixed lengths).
        pad_token_id: id used for left padding (always masked); default: the tokenizer's pad, else the first EOS.
        junior_tokenizer: optional, the junior's own tokenizer: checked to be identical to ``tokenizer``.
        check_every: decode steps between looks at which rows have finished (each look is one host sync).
        decode: "dynamic" (default: DynamicCache, finished rows dropped), "static" (a StaticCache per model and
            fixed-shape decode steps; finished rows are not dropped) or "compiled" (static + ``torch.compile`` of the
            decode step, CUDA graphs on CUDA). Same results as "dynamic"; see ``static_decode.py``.
        pad_multiple: static modes only: the prompt width is left-padded up to a multiple of this, so that calls
            with different prompt lengths share one compiled shape (the total width is width + max_new_tokens).
    """

    def __init__(self, senior, junior, tokenizer, *, eos_token_ids=None, pad_token_id=None, junior_tokenizer=None,
                 check_every: int = 8, decode: str = "dynamic", pad_multiple: int = 64):
        if senior is None:
            raise ValueError("CoGenerator needs a senior model")
        self.senior, self.junior, self.tokenizer = senior, junior, tokenizer
        self.vocab = len(tokenizer)
        check_model_vocab(senior, tokenizer, "senior")
        if junior is not None:
            check_model_vocab(junior, tokenizer, "junior")
        if junior_tokenizer is not None:
            check_same_vocab(tokenizer, junior_tokenizer)
        if eos_token_ids is None:
            eos_token_ids = _as_list(tokenizer.eos_token_id)
            gen_cfg = getattr(senior, "generation_config", None)
            eos_token_ids += _as_list(getattr(gen_cfg, "eos_token_id", None))
        self.eos_token_ids = sorted(set(int(i) for i in eos_token_ids))  # [] = no EOS (benchmarks)
        bad = [i for i in self.eos_token_ids if not 0 <= i < self.vocab]
        if bad:
            raise ValueError(f"eos_token_ids {bad} are outside the vocabulary [0, {self.vocab})")
        if pad_token_id is None:
            pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (self.eos_token_ids
                                                                                               or [0])[0]
        self.pad_token_id = int(pad_token_id)
        self.check_every = max(1, int(check_every))
        self._params = {"senior": _n_params(senior), "junior": _n_params(junior)}  # for parameters x positions
        self._tables = {"marker": token_tables(tokenizer, "marker")}
        if decode not in DECODE_MODES:
            raise ValueError(f"decode (config: rollout.decode) must be one of {DECODE_MODES}, got {decode!r}")
        if pad_multiple < 1:
            raise ValueError(f"pad_multiple must be >= 1, got {pad_multiple}")
        self.decode, self.pad_multiple = decode, int(pad_multiple)
        self._static: dict[str, StaticDecoder] = {}  # role -> decoder, kept so compiled steps and caches are reused
        if decode != "dynamic":
            for role, model in (("senior", senior), ("junior", junior)):
                if model is not None:
                    check_static_support(model, role)
                    self._static[role] = StaticDecoder(model, vocab=self.vocab, compile=decode == "compiled")

    def release_caches(self) -> None:
        """Static modes: free the KV caches held between calls (the next call allocates new ones)."""
        for dec in self._static.values():
            dec.release()

    def tables(self, rule: str = "marker") -> TokenTables:
        """The schedule tables for a word-start rule (built once, then cached)."""
        if rule not in self._tables:
            self._tables[rule] = token_tables(self.tokenizer, rule)
        return self._tables[rule]

    def generate(self, prompts: list[list[int]], rollout: RolloutConfig, *, seed: int,
                 progress: bool = False) -> Rollouts:
        """Co-write one response per prompt. See the module docstring and ``schedules.py`` for the rules."""
        rollout.validate()
        sch = schedules.get(rollout.schedule)
        prompts = [list(map(int, p)) for p in prompts]
        for i, p in enumerate(prompts):
            if not p:
                raise ValueError(f"prompt {i} is empty")
            bad = [t for t in p if not 0 <= t < self.vocab]
            if bad:
                raise ValueError(f"prompt {i} has token ids outside the vocabulary [0, {self.vocab}): {bad[:5]}")
        bad = [t for t in rollout.stop_token_ids if not 0 <= int(t) < self.vocab]
        if bad:
            raise ValueError(f"rollout.stop_token_ids {bad} are outside the vocabulary [0, {self.vocab})")
        if not prompts:
            return Rollouts([], [], [], [], [], [], {"decode_steps": 0, "tokens": 0, "seconds": 0.0})
        if sch.junior_runs and self.junior is None:
            raise ValueError(f"schedule {rollout.schedule!r} needs a junior model; CoGenerator got junior=None")
        models = [m for m, use in ((self.senior, sch.senior_runs), (self.junior, sch.junior_runs)) if use]
        with torch.inference_mode(), _eval_mode(models):
            return self._generate(prompts, rollout, sch, seed, progress)

    def _generate(self, prompts, rc: RolloutConfig, sch: schedules.Schedule, seed: int, progress: bool) -> Rollouts:
        t_start = time.perf_counter()
        n_new, vocab, static = rc.max_new_tokens, self.vocab, bool(self._static)
        sen = _Stream.of(self.senior, self._static.get("senior")) if sch.senior_runs else None
        jun = _Stream.of(self.junior, self._static.get("junior")) if sch.junior_runs else None
        streams = [s for s in (sen, jun) if s is not None]
        dev = streams[0].device
        tables, ends = self.tables(rc.word_start).to(dev), self._finish_codes(rc, dev)
        sampler, draws = AuthorSampler.of(rc, sch), BatchDraws(seed, len(prompts), vocab, dev)

        # Prefill: left-padded prompts; the mask buffer already holds the response columns (all ones).
        ids, mask = self._left_pad(prompts, n_new, dev)
        width = ids.shape[1]
        for s in streams:
            if s.static is not None:
                s.static.start(len(prompts), width + n_new)
            s.forward(ids, mask if static else mask[:, :width], (mask[:, :width].cumsum(-1) - 1).clamp_min(0), vocab)
        next_pos = torch.tensor([len(p) for p in prompts], device=dev)  # position id of each row's next token

        out = _Outputs.empty(len(prompts), n_new, self.pad_token_id, dev)
        state = sch.initial(draws.coins(out.rows) if sch.coins else torch.zeros(len(prompts), device=dev), rc.p)
        steps = range(n_new)
        if progress:
            steps = tqdm(steps, desc=f"cogen {sch.name}", leave=False)
        t = -1
        for t in steps:
            logits, partner = _author_logits(streams, state.senior, dev)
            tok, lp = sampler.draw(logits, state.senior, draws.noise(out.rows) if sampler.sampled else None)
            out.write(t, tok, state.senior, lp, None if partner is None else raw_logprob(partner, tok))
            new_state = sch.advance(state, tok, tables, draws.coins(out.rows) if sch.coins else None, p=rc.p,
                                    redraw_cap=rc.redraw_cap, chunk_size=rc.chunk_size)
            code = ends[tok]
            ending = code > 0
            if sch.turn_limit and rc.max_turns is not None:
                ending = ending | (new_state.turns >= rc.max_turns)
            out.end(t, code, ending)
            # A redraw after a row's last token changes nothing: count only redraws inside the response.
            new_state.redraws = torch.where(out.done, state.redraws, new_state.redraws)
            state = new_state
            if t == n_new - 1:
                break
            if (t + 1) % self.check_every == 0:
                n_active = int((~out.done).sum())  # the one host sync, every check_every steps
                if n_active == 0:
                    break
                if n_active <= 0.75 * out.done.shape[0] and not static:  # drop finished rows
                    keep = (~out.done).nonzero().squeeze(-1)
                    out.keep(keep, state.redraws)
                    state, tok, next_pos, mask = state.select(keep), tok[keep], next_pos[keep], mask[keep]
                    for s in streams:
                        s.select(keep)
            step_mask = mask if static else mask[:, : width + t + 1]  # static: the causal mask hides later columns
            for s in streams:
                s.forward(tok.unsqueeze(-1), step_mask, next_pos.unsqueeze(-1), vocab)
            next_pos = next_pos + 1
        out.flush(state.redraws)
        ro = out.rollouts(prompts, decode_steps=t + 1, t_start=t_start)
        for role, s in (("senior", sen), ("junior", jun)):  # the cost of each role (Rollouts.cost)
            positions = s.clock.positions if s is not None else 0
            ro.stats[f"{role}_forward_seconds"] = s.clock.seconds() if s is not None else 0.0
            ro.stats[f"{role}_positions"] = positions
            ro.stats[f"{role}_param_tokens"] = positions * self._params[role]
        return ro

    def _finish_codes(self, rc: RolloutConfig, device) -> torch.Tensor:
        """Token id -> finish code (0 = does not end, 1 = EOS, 2 = stop id), on ``device``."""
        ends = torch.zeros(self.vocab, dtype=torch.long, device=device)
        ends[[int(t) for t in rc.stop_token_ids]] = 2
        ends[self.eos_token_ids] = 1
        return ends

    def _left_pad(self, prompts, n_new: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids [B, width], left-padded, and the attention-mask buffer [B, width + n_new]. Static modes round
        the width up to ``pad_multiple``, so calls with different prompt lengths share one shape."""
        width = max(len(p) for p in prompts)
        if self._static:
            width = -(-width // self.pad_multiple) * self.pad_multiple
        ids = torch.full((len(prompts), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width + n_new), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        return ids.to(device), mask.to(device)


def _author_logits(streams, senior_writes: torch.Tensor, device) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Each row's next-token logits from its author, and from its partner (None when one model runs)."""
    if len(streams) == 1:
        return streams[0].logits, None
    ls, lj = streams[0].logits, streams[1].logits.to(device)
    writes = senior_writes.unsqueeze(-1)
    return torch.where(writes, ls, lj), torch.where(writes, lj, ls)


@dataclass
class _Outputs:
    """What the call returns, at full batch size. After finished rows are dropped, active row ``j`` writes to row
    ``index[j]``; lengths and finish reasons are tracked per active row and flushed to the full rows."""

    tok: torch.Tensor       # [B, n_new] long
    author: torch.Tensor    # [B, n_new] uint8
    lp: torch.Tensor        # [B, n_new] float32
    plp: torch.Tensor       # [B, n_new] float32 (nan where the partner was not run)
    length: torch.Tensor    # [B]
    reason: torch.Tensor    # [B] finish code
    redraws: torch.Tensor   # [B]
    index: torch.Tensor     # [b] active row -> row
    length_a: torch.Tensor  # [b]
    reason_a: torch.Tensor  # [b]
    done: torch.Tensor      # [b] bool
    compacted: bool = False

    @classmethod
    def empty(cls, b: int, n_new: int, pad_id: int, device) -> "_Outputs":
        length = torch.full((b,), n_new, dtype=torch.long, device=device)
        reason = torch.zeros(b, dtype=torch.long, device=device)
        return cls(tok=torch.full((b, n_new), pad_id, dtype=torch.long, device=device),
                   author=torch.zeros((b, n_new), dtype=torch.uint8, device=device),
                   lp=torch.zeros((b, n_new), dtype=torch.float32, device=device),
                   plp=torch.full((b, n_new), float("nan"), dtype=torch.float32, device=device),
                   length=length, reason=reason, redraws=torch.zeros(b, dtype=torch.long, device=device),
                   index=torch.arange(b, device=device), length_a=length.clone(), reason_a=reason.clone(),
                   done=torch.zeros(b, dtype=torch.bool, device=device))

    @property
    def rows(self):
        """The full-batch rows of the active rows (all of them until rows are dropped)."""
        return self.index if self.compacted else slice(None)

    def write(self, t: int, tok, senior_writes, lp, partner_lp) -> None:
        rows = self.rows
        self.tok[rows, t] = tok
        self.author[rows, t] = senior_writes.to(torch.uint8)
        self.lp[rows, t] = lp
        if partner_lp is not None:
            self.plp[rows, t] = partner_lp

    def end(self, t: int, code, ending) -> None:
        """Rows ``ending`` after token ``t`` (with finish ``code``) end there unless they ended before."""
        end_now = ending & ~self.done
        self.length_a = torch.where(end_now, t + 1, self.length_a)
        self.reason_a = torch.where(end_now, code, self.reason_a)
        self.done = self.done | end_now

    def flush(self, redraws) -> None:
        self.length[self.index], self.reason[self.index] = self.length_a, self.reason_a
        self.redraws[self.index] = redraws

    def keep(self, keep, redraws) -> None:
        """Drop every active row not in ``keep``."""
        self.flush(redraws)
        self.index, self.length_a, self.reason_a = self.index[keep], self.length_a[keep], self.reason_a[keep]
        self.done, self.compacted = self.done[keep], True

    def rollouts(self, prompts, *, decode_steps: int, t_start: float) -> Rollouts:
        tok, author, lp, plp = (x.cpu().numpy() for x in (self.tok, self.author, self.lp, self.plp))
        length, reason = self.length.cpu().tolist(), self.reason.cpu().tolist()
        ro = Rollouts(
            prompt_ids=prompts,
            response_ids=[tok[i, :n].tolist() for i, n in enumerate(length)],
            author=[author[i, :n].copy() for i, n in enumerate(length)],
            logprob=[lp[i, :n].copy() for i, n in enumerate(length)],
            partner_logprob=[plp[i, :n].copy() for i, n in enumerate(length)],
            finish_reason=[_REASONS[r] for r in reason],
        )
        ro.stats = {"senior_fraction": ro.senior_fraction(), "author_changes": int(sum(ro.author_changes())),
                    "redraws": int(self.redraws.sum()), "decode_steps": int(decode_steps),
                    "tokens": int(sum(length)), "seconds": time.perf_counter() - t_start}
        return ro


def _as_list(x) -> list[int]:
    if x is None:
        return []
    return [int(i) for i in x] if isinstance(x, (list, tuple)) else [int(x)]
