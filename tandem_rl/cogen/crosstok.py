"""Co-writing with a junior that has its own tokenizer: a text-level handoff between two token sequences.

The lockstep engine (``engine.py``) needs one vocabulary: both models ingest every token id. Here the models share
only the *text* (as bytes). Each keeps its own token sequence of that text and its own KV cache; the author samples
from its own vocabulary; when authorship passes, the new author's tokenizer encodes exactly the bytes written since
it last read the text, and decoding continues. ``pairing.co_generator`` picks this class once, when the tokenizers
differ; otherwise the lockstep engine runs, unchanged.

All rows decode together, one draw per unfinished row per step; each model keeps one batched KV cache over the rows
(``ragged_stream.py``): at a step, every row feeds that model what it has not read yet (0, 1 or many tokens), right-
aligned in one padded block. Example (the junior writes "The c", then the senior "at sat")::

    text bytes        T h e _ c a t _ s a t       who wrote them: J J J J J S S S S S S
    junior tokens     "The" " c" | "at" " sat"     (reads "at sat" when it writes next, or at the end)
    senior tokens     "The" | " cat" " sat"        read "The c", dropped " c", drew " cat" (must begin with " c")
    senior loss mask   0       0      1            " cat" holds junior bytes: excluded

1. **Handoff and token healing.** The new author encodes the unread bytes (``TokenBytes.encode``, lossless), drops
   the *last* token of that encoding and feeds the rest (one forward pass into the kept cache).
   Its next token is then drawn only among the tokens whose bytes begin with the dropped token's bytes (the
   distribution renormalised over them): a boundary that falls inside what would be one token for the new author
   ("c" | "at" above: the senior would write " cat") is healed, the model re-spells the boundary its own way. The
   healed token holds bytes of both writers: only its new bytes count as the new author's.
2. **Authorship per byte**, hence per character (``char_authorship.py``): the senior's loss mask over its tokens of
   the text is 1 only for tokens whose every byte the senior wrote; a token holding any junior byte is excluded
   (``stats["mixed_tokens"]`` counts the tokens with bytes from both).
3. **Word boundaries**: the schedule runs on the *writing* model's tokens and tables (``vocab.token_tables`` of its
   own tokenizer): a ``word`` redraw follows a word-initial token of the writer's vocabulary, ``chunk`` counts the
   writer's tokens. A handoff never happens inside a UTF-8 character: the current author keeps writing until the
   character is complete.
4. **Log-probs.** ``logprob`` of a senior token is the probability the senior drew it with (the exact sampling
   distribution, healing constraint included); tokens the senior read (the junior's text, re-encoded) get ``nan``.
   Training recomputes the old log-probs of every trained row by a forward pass (``train/update.py``) and the loss
   reads only senior-written tokens, whose context is exactly what the senior saw when it drew them.
   ``partner_logprob`` is ``nan`` (the partner has other tokens).
5. **Budget and ends.** ``max_new_tokens`` counts the senior's tokens of the text: decoding stops once the senior's
   tokens plus the junior tokens it has not read yet reach it, and the returned sequence is cut to
   ``max_new_tokens`` senior tokens. Either model's EOS ends the row (``eos``); ``rollout.stop_token_ids`` are senior
   ids, and junior ids spelled the same (``convert_ids_to_tokens``) stop the junior (``stop``). The senior's
   sequence ends with the senior's own EOS / stop id, junior-authored (0) when the junior ended the row.
   Special tokens other than those add no text: the partner never reads them.
6. **Prompts** are senior ids; the junior reads the same text (``junior_prompt``: decoded with specials kept and
   encoded by the junior's tokenizer, which parses its own special tokens and adds its BOS if it has one).

``solo`` runs through the lockstep engine with the senior alone, and ``junior`` through it with the junior alone on
its own prompts, the text then encoded in the senior's tokens: only co-writing schedules need this path. Random
draws: each model's noise and the schedule's coins come from their own generators, drawn for the whole batch at
every step, so a row's draws depend only on the seed, the batch size and its index (as in the lockstep engine).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import fields
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from tandem_rl.cogen import schedules
from tandem_rl.cogen.char_authorship import char_authors, token_authors, utf8_complete
from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.engine import CoGenerator, _eval_mode, _ForwardClock, _n_params
from tandem_rl.cogen.ragged_stream import RaggedStream
from tandem_rl.cogen.rollouts import JUNIOR, SENIOR, Rollouts
from tandem_rl.cogen.sampling import COIN_SALT, AuthorSampler, _or, sample
from tandem_rl.cogen.token_bytes import TokenBytes
from tandem_rl.cogen.vocab import TokenTables, check_model_vocab, token_tables
from tandem_rl.rewards.authorship import char_authors as token_char_authors

_DECODE = dict(skip_special_tokens=True, clean_up_tokenization_spaces=False)
JUNIOR_SALT = 0x10_7A_C0DE  # the junior's noise generator is seeded seed ^ salt: a stream apart from the senior's


def junior_prompt(senior_tokenizer, junior_tokenizer, prompt_ids: list[int]) -> list[int]:
    """The junior's tokens of a prompt given in senior ids: the same text, specials kept as their literal text."""
    text = senior_tokenizer.decode(list(prompt_ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return [int(i) for i in junior_tokenizer.encode(text, add_special_tokens=True)]


class _Side:
    """One model of the pair with its tokenizer's tables (built once)."""

    def __init__(self, role: str, model, tokenizer, eos_token_ids: list[int], pad_id: int):
        self.role, self.model, self.tokenizer = role, model, tokenizer
        self.vocab = len(tokenizer)
        check_model_vocab(model, tokenizer, role)
        self.bytes = TokenBytes(tokenizer, f"{role}'s tokenizer")
        self.tables = {"marker": token_tables(tokenizer, "marker")}
        self.eos = set(eos_token_ids)
        self.params = _n_params(model)
        self.pad_id = int(pad_id)

    def table(self, rule: str) -> TokenTables:
        if rule not in self.tables:
            self.tables[rule] = token_tables(self.tokenizer, rule)
        return self.tables[rule]


class _Row:
    """One row's text (bytes), who wrote each byte, and each model's token ids of the part of it that model has read.

    ``unfed[role]`` are ids of that model not yet in its cache: fed (``RaggedStream.feed``) before it next writes."""

    def __init__(self, prompts: dict[str, list[int]]):
        self.text, self.who = bytearray(), bytearray()
        self.prompt = prompts
        self.ids: dict[str, list[int]] = {"senior": [], "junior": []}
        self.read = {"senior": 0, "junior": 0}        # bytes of the text each model's ids cover
        self.unfed: dict[str, list[int]] = {"senior": [], "junior": []}
        self.senior_lp: dict[int, float] = {}          # index in the senior's ids -> its sampling log-prob
        self.events: list[tuple] = []                  # (writer, index in its ids, token, log-prob, healing prefix)
        self.writer: Optional[str] = None
        self.heal = b""
        self.final = None                              # (role, token) of the EOS / stop id that ended the row
        self.finish, self.done = "length", False
        self.healed = self.junior_unread = self.redraws = 0

    def catch_up(self, role: str, tb: TokenBytes) -> bytes:
        """``role`` reads the bytes written since it last read; returns the healing prefix (b"" if none)."""
        seg = bytes(self.text[self.read[role]:])
        if not seg:
            return b""
        ids = tb.encode(seg)
        heal = tb.table[ids[-1]]  # the last token may be cut short by the boundary: the writer re-spells it
        self.ids[role] += ids[:-1]
        self.unfed[role] += ids[:-1]
        self.read[role] += len(seg) - len(heal)
        return heal

    def take_unfed(self, role: str) -> list[int]:
        out, self.unfed[role] = self.unfed[role], []
        return out

    def wrote(self, role: str, tok: int, data: bytes, lp: float) -> None:
        """Record ``role``'s draw ``tok`` (bytes ``data``, the healing prefix included)."""
        new = data[len(self.heal):]
        self.text += new
        self.who += bytes([SENIOR if role == "senior" else JUNIOR]) * len(new)
        k = len(self.ids[role])
        self.events.append((role, k, tok, lp, self.heal))
        if role == "senior":
            self.senior_lp[k] = lp
        else:
            self.junior_unread += 1
        self.ids[role].append(tok)
        self.unfed[role].append(tok)
        self.read[role] += len(data)


class CrossTokenGenerator:
    """Senior + junior with different (byte-level BPE) tokenizers; ``generate`` returns the senior's ``Rollouts``.

    Same call as ``CoGenerator.generate``: prompts in senior ids, a ``RolloutConfig``, a seed. The result's
    ``response_ids`` are the senior's tokens of the whole co-written text, ``author`` 1 only for tokens the senior
    wrote entirely, ``char_author`` who wrote each character, ``stats["mixed_tokens"]`` the tokens excluded for
    holding bytes of both. See the module docstring for the rules. After a co-writing call, ``last_trace[i]``
    holds row ``i``'s text bytes, the junior's prompt and token ids of the whole text, and every draw as
    ``(writer, index in the writer's ids, token, log-prob, healing prefix)``.

    Example (tests/test_cogen_crosstok.py builds such a pair)::

        gen = CrossTokenGenerator(senior, junior, senior_tok, junior_tok)
        ro = gen.generate([senior_tok.encode("Tom has")], RolloutConfig(schedule="word", max_new_tokens=32), seed=0)
        text, who = ro.char_author[0]
        senior_tok.decode(ro.response_ids[0], skip_special_tokens=True) == text        # True
    """

    def __init__(self, senior, junior, tokenizer, junior_tokenizer, *, eos_token_ids=None,
                 junior_eos_token_ids=None, pad_token_id=None, decode: str = "dynamic", **_lockstep_only):
        if senior is None or junior is None:
            raise ValueError("CrossTokenGenerator needs a senior and a junior model")
        if decode != "dynamic":
            raise ValueError(f"rollout.decode={decode!r} is not supported when the junior has its own tokenizer "
                             "(ragged per-row feeds into growing caches); use decode=dynamic")
        self.tokenizer, self.junior_tokenizer = tokenizer, junior_tokenizer
        self.senior_only = CoGenerator(senior, None, tokenizer, eos_token_ids=eos_token_ids, pad_token_id=pad_token_id)
        self.junior_only = CoGenerator(junior, None, junior_tokenizer, eos_token_ids=junior_eos_token_ids)
        self.eos_token_ids, self.pad_token_id = self.senior_only.eos_token_ids, self.senior_only.pad_token_id
        self.vocab = len(tokenizer)
        self.sides = {"senior": _Side("senior", senior, tokenizer, self.eos_token_ids, self.pad_token_id),
                      "junior": _Side("junior", junior, junior_tokenizer, self.junior_only.eos_token_ids,
                                      self.junior_only.pad_token_id)}
        self.senior, self.junior = senior, junior

    def tables(self, rule: str = "marker") -> TokenTables:
        """The senior's schedule tables (what callers index with senior ids, e.g. ``eval/transfer.py``)."""
        return self.sides["senior"].table(rule)

    def generate(self, prompts: list[list[int]], rollout: RolloutConfig, *, seed: int,
                 progress: bool = False) -> Rollouts:
        """Co-write one response per prompt (senior ids in, senior ids out)."""
        rollout.validate()
        sch = schedules.get(rollout.schedule)
        if not sch.junior_runs:  # the senior alone: its tokens are the text
            ro = self.senior_only.generate(prompts, rollout, seed=seed, progress=progress)
            ro.char_author = [_all_chars(self.tokenizer, ids, SENIOR) for ids in ro.response_ids]
            ro.stats.update(mixed_tokens=0, healed=0)
            return ro
        prompts = [list(map(int, p)) for p in prompts]
        for i, p in enumerate(prompts):
            if not p or any(not 0 <= t < self.vocab for t in p):
                raise ValueError(f"prompt {i} is empty or has token ids outside the vocabulary [0, {self.vocab})")
        bad = [t for t in rollout.stop_token_ids if not 0 <= int(t) < self.vocab]
        if bad:
            raise ValueError(f"rollout.stop_token_ids {bad} are outside the senior's vocabulary [0, {self.vocab})")
        if not sch.senior_runs:
            return self._junior_alone(prompts, rollout, seed, progress)
        t0 = time.perf_counter()
        with torch.inference_mode(), _eval_mode([self.senior, self.junior]):
            rows, clocks, steps = self._cowrite(prompts, rollout, sch, seed, progress)
        results = [self._assemble(r, rollout.max_new_tokens) for r in rows]
        self.last_trace = [{"text": bytes(r.text), "junior_prompt": r.prompt["junior"], "events": r.events,
                            "junior_ids": r.ids["junior"] + self.sides["junior"].bytes.encode(
                                bytes(r.text[r.read["junior"]:]))} for r in rows]  # for inspection and tests
        ro = Rollouts(prompt_ids=prompts, response_ids=[r["ids"] for r in results],
                      author=[r["author"] for r in results], logprob=[r["logprob"] for r in results],
                      partner_logprob=[np.full(len(r["ids"]), np.nan, np.float32) for r in results],
                      finish_reason=[r["finish"] for r in results],
                      char_author=[r["chars"] for r in results])
        ro.stats = {"senior_fraction": ro.senior_fraction(), "author_changes": int(sum(ro.author_changes())),
                    "redraws": sum(r["redraws"] for r in results), "decode_steps": steps,
                    "tokens": sum(len(r["ids"]) for r in results), "seconds": time.perf_counter() - t0,
                    "mixed_tokens": sum(r["mixed"] for r in results), "healed": sum(r.healed for r in rows)}
        for role, side in self.sides.items():
            ro.stats[f"{role}_forward_seconds"] = clocks[role].seconds()
            ro.stats[f"{role}_positions"] = clocks[role].positions
            ro.stats[f"{role}_param_tokens"] = clocks[role].positions * side.params
        return ro

    def _cowrite(self, prompts, rc: RolloutConfig, sch: schedules.Schedule, seed: int, progress: bool):
        """All rows in one batch, one draw per unfinished row per step (see the module docstring)."""
        n = len(prompts)
        rows = [_Row({"senior": p, "junior": junior_prompt(self.tokenizer, self.junior_tokenizer, p)})
                for p in prompts]
        streams, noise_gen = {}, {}
        for k, (role, side) in enumerate(self.sides.items()):
            stream = RaggedStream(side.model, vocab=side.vocab, pad_id=side.pad_id,
                                  clock=_ForwardClock(next(side.model.parameters()).device))
            stream.feed([r.prompt[role] for r in rows])  # prefill (left-padded prompts)
            streams[role] = stream
            noise_gen[role] = torch.Generator(device=stream.device).manual_seed(int(seed) ^ (k * JUNIOR_SALT))
        coin_gen = torch.Generator().manual_seed(int(seed) ^ COIN_SALT)
        sampler = AuthorSampler.of(rc, sch)
        stop_ids = {"senior": {int(t) for t in rc.stop_token_ids},
                    "junior": _same_strings(self.tokenizer, self.junior_tokenizer, rc.stop_token_ids)}
        tables = _joint_tables(self.sides["senior"].table(rc.word_start), self.sides["junior"].table(rc.word_start))
        offset = {"senior": 0, "junior": self.sides["senior"].vocab}  # junior ids sit after the senior's in tables
        state = sch.initial(torch.rand(n, generator=coin_gen), rc.p)  # [n], on the CPU: read per row anyway
        held = list(range(n))  # the rows the streams hold, in their order (finished ones until compaction)
        bar = tqdm(desc=f"cogen {sch.name} (cross-tokenizer)", leave=False) if progress else None
        steps = 0
        while True:
            live = [i for i in held if not rows[i].done]
            if not live:
                break
            if len(live) <= 0.75 * len(held):  # drop finished rows from both caches
                keep = [j for j, i in enumerate(held) if not rows[i].done]
                for stream in streams.values():
                    stream.select(keep)
                held = live
            for i in live:  # who writes; a new writer reads the text it has not read yet (token healing)
                r = rows[i]
                wanted = "senior" if bool(state.senior[i]) else "junior"
                r.writer = wanted if r.writer is None or utf8_complete(r.text) else r.writer  # not mid-character
                r.heal = r.catch_up(r.writer, self.sides[r.writer].bytes)
                r.healed += bool(r.heal)
                if r.writer == "senior":
                    r.junior_unread = 0
            for role, stream in streams.items():
                stream.feed([rows[i].take_unfed(role) for i in held])
            coins = torch.rand(n, generator=coin_gen) if sch.coins else None
            drawn: dict[int, tuple[int, float]] = {}
            for role, stream in streams.items():
                side, params = self.sides[role], (sampler.senior if role == "senior" else sampler.junior)
                noise = None
                if params.temperature > 0:  # drawn for every row every step: a row's draws ignore the others
                    noise = torch.empty((n, side.vocab), device=stream.device).exponential_(
                        generator=noise_gen[role]).clamp_min_(1e-20)
                at = [(j, i) for j, i in enumerate(held) if not rows[i].done and rows[i].writer == role]
                if not at:
                    continue
                logits = stream.logits[[j for j, _ in at]]
                if any(rows[i].heal for _, i in at):  # only tokens that begin with the dropped token's bytes
                    allowed = torch.ones_like(logits, dtype=torch.bool)
                    for k, (_, i) in enumerate(at):
                        if rows[i].heal:
                            allowed[k] = False
                            allowed[k, side.bytes.starting_with(rows[i].heal).to(logits.device)] = True
                    logits = logits.masked_fill(~allowed, float("-inf"))
                tok, lp = sample(logits, params.temperature, params.top_k, params.top_p,
                                 noise=None if noise is None else noise[[i for _, i in at]])
                for (_, i), t, l in zip(at, tok.tolist(), lp.tolist()):
                    drawn[i] = (t, l)
            advanced = []
            for i in live:
                r, (tok, lp) = rows[i], drawn[i]
                side = self.sides[r.writer]
                r.wrote(r.writer, tok, side.bytes.table[tok], lp)
                if tok in side.eos or tok in stop_ids[r.writer]:  # kept in the writer's own sequence
                    r.finish, r.final, r.done = ("eos" if tok in side.eos else "stop"), (r.writer, tok), True
                    continue
                advanced.append(i)
            if advanced:
                idx = torch.tensor(advanced)
                toks = torch.tensor([drawn[i][0] + offset[rows[i].writer] for i in advanced])
                new = sch.advance(state.select(idx), toks, tables, None if coins is None else coins[idx], p=rc.p,
                                  redraw_cap=rc.redraw_cap, chunk_size=rc.chunk_size)
                ends = torch.tensor([len(rows[i].ids["senior"]) + rows[i].junior_unread >= rc.max_new_tokens
                                     for i in advanced])  # the budget counts the senior's tokens
                if sch.turn_limit and rc.max_turns is not None:
                    ends = ends | (new.turns >= rc.max_turns)
                new.redraws = torch.where(ends, state.redraws[idx], new.redraws)  # none after a row's last token
                for f in fields(new):
                    getattr(state, f.name)[idx] = getattr(new, f.name)
                for i in idx[ends].tolist():
                    rows[i].done = True
            steps += 1
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        for i, r in enumerate(rows):
            r.redraws = int(state.redraws[i])
        return rows, {role: stream.clock for role, stream in streams.items()}, steps

    def _assemble(self, row: _Row, max_new: int) -> dict:
        """The senior's sequence of the whole text (its ids, then the unread rest encoded), authors, log-probs."""
        sen, text, who, finish = self.sides["senior"], row.text, row.who, row.finish
        senior_lp = dict(row.senior_lp)
        ids = row.ids["senior"] + sen.bytes.encode(bytes(text[row.read["senior"]:]))  # the end needs no healing
        emitted = [SENIOR if k in senior_lp else JUNIOR for k in range(len(ids))]  # authors of byte-less tokens
        # the senior's own end id, junior-authored; but a junior stop token with text (a stop id such as ".") is
        # already in the tail encoded above, so adding the senior's id for the same string would write it twice
        text_stop = finish == "stop" and row.final is not None and bool(self.sides["junior"].bytes.table[row.final[1]])
        if row.final is not None and row.final[0] == "junior" and not text_stop:
            end = self._senior_end(row.final[1], finish)
            if end is not None:
                ids.append(end)
                emitted.append(JUNIOR)
        if len(ids) > max_new:  # the budget counts senior tokens
            ids, emitted, finish = ids[:max_new], emitted[:max_new], "length"
        pieces = [sen.bytes.table[t] for t in ids]
        n_bytes = sum(len(p) for p in pieces)
        who = np.frombuffer(bytes(who[:n_bytes]), np.uint8)
        author, mixed = token_authors(pieces, who, emitted)
        logprob = np.array([senior_lp.get(k, np.nan) for k in range(len(ids))], dtype=np.float32)
        chars = char_authors(bytes(text[:n_bytes]), who)
        if chars is None or chars[0] != self.tokenizer.decode(ids, **_DECODE):  # cut mid-character, or a quirk
            chars = token_char_authors(self.tokenizer, ids, author)
        return {"ids": ids, "author": author, "logprob": logprob, "finish": finish, "chars": chars, "mixed": mixed,
                "redraws": row.redraws}

    def _senior_end(self, junior_tok: int, finish: str) -> Optional[int]:
        """The senior id that ends the senior's sequence when the junior ended the row."""
        if finish == "eos":
            return self.eos_token_ids[0] if self.eos_token_ids else None
        same = _same_strings(self.junior_tokenizer, self.tokenizer, [junior_tok])
        return min(same) if same else None

    def _junior_alone(self, prompts, rc: RolloutConfig, seed: int, progress: bool) -> Rollouts:
        """``junior``: the junior writes alone on its own prompts (lockstep engine); its text in senior tokens."""
        jp = [junior_prompt(self.tokenizer, self.junior_tokenizer, p) for p in prompts]
        stop = sorted(_same_strings(self.tokenizer, self.junior_tokenizer, rc.stop_token_ids))
        alone = dataclasses.replace(  # the junior in the senior's seat of a one-model engine, with its own settings
            rc, schedule="solo", stop_token_ids=stop, temperature=_or(rc.junior_temperature, rc.temperature),
            top_p=_or(rc.junior_top_p, rc.top_p), top_k=_or(rc.junior_top_k, rc.top_k))
        jr = self.junior_only.generate(jp, alone, seed=seed, progress=progress)
        jun, sen = self.sides["junior"], self.sides["senior"]
        ids_out, authors, chars, finish = [], [], [], []
        for ids, fr in zip(jr.response_ids, jr.finish_reason):
            body = ids[:-1] if fr in ("eos", "stop") else ids
            sids = sen.bytes.encode(_whole_chars(jun.bytes.bytes_of(body)))
            end = self._senior_end(ids[-1], fr) if fr in ("eos", "stop") else None
            sids += [end] if end is not None else []
            if len(sids) > rc.max_new_tokens:  # the budget counts senior tokens
                sids, fr = sids[:rc.max_new_tokens], "length"
            ids_out.append(sids)
            finish.append(fr)
            authors.append(np.zeros(len(sids), np.uint8))
            chars.append(_all_chars(self.tokenizer, sids, JUNIOR))
        ro = Rollouts(prompt_ids=prompts, response_ids=ids_out, author=authors,
                      logprob=[np.full(len(s), np.nan, np.float32) for s in ids_out],
                      partner_logprob=[np.full(len(s), np.nan, np.float32) for s in ids_out],
                      finish_reason=finish, char_author=chars)
        ro.stats = {**jr.stats, "senior_fraction": ro.senior_fraction(), "tokens": sum(map(len, ids_out)),
                    "mixed_tokens": 0, "healed": 0,
                    "senior_forward_seconds": 0.0, "senior_positions": 0, "senior_param_tokens": 0,
                    "junior_forward_seconds": jr.stats.get("senior_forward_seconds", 0.0),  # absent: no prompts
                    "junior_positions": jr.stats.get("senior_positions", 0),
                    "junior_param_tokens": jr.stats.get("senior_param_tokens", 0)}
        return ro


def _joint_tables(senior: TokenTables, junior: TokenTables) -> TokenTables:
    """One table over both vocabularies (junior ids offset by the senior's size), so one batched schedule step
    reads each row's token in its writer's own table."""
    return TokenTables(*(torch.cat([a, b]) for a, b in zip(
        (senior.word_start, senior.ends_blank_line, senior.ends_newline, senior.is_newline),
        (junior.word_start, junior.ends_blank_line, junior.ends_newline, junior.is_newline))))


def _whole_chars(data: bytes) -> bytes:
    """``data`` without a trailing incomplete UTF-8 character (a cut at max_new_tokens can leave one)."""
    while data and not utf8_complete(data):
        data = data[:-1]
    return data


def _all_chars(tokenizer, ids: list[int], author: int) -> tuple[str, np.ndarray]:
    text = tokenizer.decode(list(ids), **_DECODE)
    return text, np.full(len(text), author, dtype=np.uint8)


def _same_strings(from_tok, to_tok, ids) -> set[int]:
    """Ids of ``to_tok`` whose token string equals that of one of ``ids`` in ``from_tok`` (stop / end ids)."""
    if not len(ids):
        return set()
    want = set(from_tok.convert_ids_to_tokens([int(i) for i in ids]))
    vocab = to_tok.get_vocab()
    return {int(vocab[s]) for s in want if s in vocab}

