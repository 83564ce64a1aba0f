"""A junior with its own tokenizer (tandem_rl/cogen/crosstok.py): text-level handoff, healing, authorship per byte.

The pair: tests/tiny.py's byte-level BPE (300 tokens) for the senior, and a second byte-level BPE trained on the
same corpus with other merges, vocabulary size and special-token ids (330 tokens) for the junior. Every check
compares with an independent reference: the text decoded from each model's own token sequence, authorship rebuilt
from where each model's sampled tokens sit in its own sequence, and log-probs recomputed without a cache.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_rl.cogen.char_authorship import char_authors, response_texts, token_authors, utf8_complete
from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.crosstok import CrossTokenGenerator, junior_prompt
from tandem_rl.cogen.engine import CoGenerator
from tandem_rl.cogen.pairing import co_generator
from tandem_rl.cogen.token_bytes import TokenBytes
from tiny import _CORPUS, CHAT_TEMPLATE, ENGINE_TEXTS, soften, tiny_model, tiny_tokenizer


def other_tokenizer():
    """A second byte-level BPE on the same corpus: other merges (other order, size) and other special-token ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=330, special_tokens=["<|im_end|>", "<|endoftext|>", "<|im_start|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(_CORPUS[::-1] * 7, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def cross_pair():
    """(senior, junior, senior tokenizer, junior tokenizer): a Llama senior, a Qwen3 junior with its own vocabulary."""
    st_, jt = tiny_tokenizer(), other_tokenizer()
    return soften(tiny_model(st_, seed=0)), soften(tiny_model(jt, seed=1, arch="qwen3", hidden=32)), st_, jt


@pytest.fixture(scope="module")
def pair():
    return cross_pair()


def _prompts(tok):
    return [tok.encode(t) for t in ENGINE_TEXTS]


RC = RolloutConfig(schedule="word", p=0.5, max_new_tokens=40, temperature=1.0, redraw_cap=4)


# ---- the choice of engine; the same-tokenizer path is untouched ----------------------------------------------

def test_same_tokenizer_pairs_keep_the_lockstep_engine_and_its_results(pair):
    senior, _, tok, _ = pair
    junior = soften(tiny_model(tok, seed=1, arch="qwen3", hidden=32))
    gen = co_generator(senior, junior, tok, tiny_tokenizer())  # an equal tokenizer, another object
    assert type(gen) is CoGenerator
    ref = CoGenerator(senior, junior, tok).generate(_prompts(tok), RC, seed=3)
    out = gen.generate(_prompts(tok), RC, seed=3)
    assert out.response_ids == ref.response_ids and out.char_author is None
    for a, b in zip(out.author + out.logprob, ref.author + ref.logprob):
        np.testing.assert_array_equal(a, b)
    assert type(co_generator(senior, junior, tok, None)) is CoGenerator


def test_different_tokenizers_choose_the_cross_tokenizer_generator(pair):
    senior, junior, st_, jt = pair
    assert type(co_generator(senior, junior, st_, jt)) is CrossTokenGenerator
    with pytest.raises(ValueError, match="decode=dynamic"):
        co_generator(senior, junior, st_, jt, decode="static")


def test_a_tokenizer_without_exact_token_bytes_is_refused(pair):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    words = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]")
    with pytest.raises(ValueError, match="not a byte-level BPE"):
        TokenBytes(words, "junior's tokenizer")


# ---- the co-written text, from both sides --------------------------------------------------------------------

def _runs(pair, schedules=("word", "token", "chunk", "paragraph"), seeds=(0, 1, 2)):
    senior, junior, st_, jt = pair
    gen = CrossTokenGenerator(senior, junior, st_, jt)
    for schedule in schedules:
        for seed in seeds:
            rc = dataclasses.replace(RC, schedule=schedule, chunk_size=3, max_turns=6)
            ro = gen.generate(_prompts(st_), rc, seed=seed)
            yield gen, rc, ro, gen.last_trace


def _byte_authors(trace, senior_ids, sb: TokenBytes, jb: TokenBytes, n_bytes: int) -> np.ndarray:
    """Who wrote each byte, rebuilt from where each model's sampled tokens sit in its *own* token sequence."""
    who = np.full(n_bytes, 255, dtype=np.uint8)
    for role, ids, tb in (("senior", senior_ids, sb), ("junior", trace["junior_ids"], jb)):
        starts = np.cumsum([0] + [len(tb.table[t]) for t in ids])
        for writer, k, tok, _, heal in trace["events"]:
            if writer != role or k >= len(ids):
                continue
            assert ids[k] == tok, "a sampled token is missing from its writer's own sequence"
            lo, hi = starts[k] + len(heal), min(starts[k + 1], n_bytes)
            assert (who[lo:hi] == 255).all(), "two draws claim the same byte"
            who[lo:hi] = 1 if role == "senior" else 0
    assert (who != 255).all(), "a byte nobody drew"
    return who


def test_both_sides_decode_to_the_same_text_and_authorship_matches_the_draws(pair):
    senior, junior, st_, jt = pair
    sb, jb = TokenBytes(st_), TokenBytes(jt)
    seen_mixed = seen_heal = 0
    for gen, rc, ro, traces in _runs(pair):
        for i, trace in enumerate(traces):
            ids = ro.response_ids[i]
            senior_bytes = sb.bytes_of(ids)
            assert senior_bytes == trace["text"][:len(senior_bytes)]
            if ro.finish_reason[i] != "length":       # not cut by the budget: the whole text
                assert senior_bytes == trace["text"] == jb.bytes_of(trace["junior_ids"])
            else:
                assert jb.bytes_of(trace["junior_ids"]) == trace["text"]
            assert len(ids) <= rc.max_new_tokens
            who = _byte_authors(trace, ids, sb, jb, len(trace["text"]))[:len(senior_bytes)]
            # the loss mask: 1 exactly where every byte of the senior token is the senior's (fails closed)
            starts = np.cumsum([0] + [len(sb.table[t]) for t in ids])
            for k, t in enumerate(ids):
                span = who[starts[k]:starts[k + 1]]
                if span.size:
                    assert ro.author[i][k] == int(span.all()), (k, span)
                    seen_mixed += int(0 < span.sum() < span.size)
            # per character: the record grading reads equals the byte authorship, on the decoded text
            text, chars = ro.char_author[i]
            assert text == st_.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            ref = char_authors(senior_bytes, who)
            if ref is not None:
                assert ref[0] == text and np.array_equal(ref[1], chars)
        seen_heal += ro.stats["healed"]
        assert ro.stats["mixed_tokens"] >= 0 and np.isnan(np.concatenate(ro.partner_logprob)).all()
    assert seen_heal > 0 and seen_mixed > 0  # the runs did exercise healing and mixed tokens


def test_logprobs_equal_an_uncached_recompute_on_both_sides(pair):
    """Each draw's log-prob, recomputed by one full forward over the writer's own sequence up to it (no cache):
    the KV caches across handoffs hold exactly the sequence each model is said to have read."""
    senior, junior, st_, jt = pair
    sb, jb = TokenBytes(st_), TokenBytes(jt)
    checked = 0
    for gen, rc, ro, traces in _runs(pair, schedules=("word",), seeds=(5,)):
        for i, trace in enumerate(traces):
            seqs = {"senior": (senior, ro.prompt_ids[i], list(ro.response_ids[i]), sb),
                    "junior": (junior, trace["junior_prompt"], trace["junior_ids"], jb)}
            for writer, k, tok, lp, heal in trace["events"]:
                model, prompt, ids, tb = seqs[writer]
                if k >= len(ids):
                    continue
                with torch.no_grad():
                    logits = model(input_ids=torch.tensor([prompt + ids[:k]])).logits[0, -1, :len(tb)].float()
                if heal:
                    keep = tb.starting_with(heal)
                    assert tok in keep.tolist()
                    logits = torch.full_like(logits, float("-inf")).index_copy(0, keep, logits[keep])
                want = float(torch.log_softmax(logits / rc.temperature, -1)[tok])
                assert lp == pytest.approx(want, abs=1e-4)
                if writer == "senior" and not heal:
                    assert ro.logprob[i][k] == pytest.approx(want, abs=1e-4)
                checked += 1
    assert checked > 20


def test_a_rows_result_depends_on_its_prompt_seed_and_index_only(pair):
    """Batched ragged decoding: changing the other rows' prompts (other lengths, other handoffs, other finishing
    steps) leaves row 0 unchanged; the same call twice gives the same rollouts; another seed, others."""
    senior, junior, st_, jt = pair
    gen = CrossTokenGenerator(senior, junior, st_, jt, eos_token_ids=[st_.encode("x")[0]])
    prompts = _prompts(st_)
    a = gen.generate(prompts, RC, seed=11)
    b = gen.generate(prompts[:1] + [st_.encode(t) for t in ("12 plus 7", "Let x be", "The fraction")], RC, seed=11)
    assert a.response_ids[0] == b.response_ids[0] and np.array_equal(a.author[0], b.author[0])
    np.testing.assert_allclose(a.logprob[0], b.logprob[0], atol=1e-5)
    again = gen.generate(prompts, RC, seed=11)
    assert again.response_ids == a.response_ids and again.char_author[0][0] == a.char_author[0][0]
    assert gen.generate(prompts, RC, seed=12).response_ids != a.response_ids


def test_junior_prompt_is_the_same_text_in_the_juniors_tokens(pair):
    _, _, st_, jt = pair
    chat = st_.apply_chat_template([{"role": "user", "content": "Tom has 12 apples."}], tokenize=False,
                                   add_generation_prompt=True)
    ids = junior_prompt(st_, jt, st_.encode(chat, add_special_tokens=False))
    assert jt.decode(ids, skip_special_tokens=False) == chat
    assert jt.convert_tokens_to_ids("<|im_start|>") in ids  # the junior's own special token, not its bytes


def test_word_redraws_happen_at_word_starts_of_the_writers_tokens(pair):
    """With a cap beyond the response, the author can only change after a word-initial token of the writer's
    own vocabulary (possibly deferred to the end of a UTF-8 character)."""
    senior, junior, st_, jt = pair
    gen = CrossTokenGenerator(senior, junior, st_, jt)
    tables = {"senior": gen.sides["senior"].table("marker"), "junior": gen.sides["junior"].table("marker")}
    changes = 0
    for seed in range(3):
        gen.generate(_prompts(st_), dataclasses.replace(RC, redraw_cap=1000), seed=seed)
        for trace in gen.last_trace:
            ev = trace["events"]
            since_word_start = False
            for a, b in zip(ev, ev[1:]):
                since_word_start |= bool(tables[a[0]].word_start[a[2]])
                if a[0] != b[0]:
                    assert since_word_start, (a, b)
                    changes += 1
                    since_word_start = False
    assert changes > 0


def test_either_models_eos_ends_the_row_and_the_senior_sequence_ends_in_its_own_eos(pair):
    senior, junior, st_, jt = pair
    gen = CrossTokenGenerator(senior, junior, st_, jt)
    rc = dataclasses.replace(RC, p=0.0)  # the junior writes everything
    gen.generate(_prompts(st_), rc, seed=0)
    row, k = next((i, k) for i, tr in enumerate(gen.last_trace) for k in range(1, len(tr["events"]))
                  if tr["events"][k][2] not in [e[2] for e in tr["events"][:k]])
    first = gen.last_trace[row]["events"][k][2]  # a later draw, new at that point, becomes the junior's EOS
    gen = CrossTokenGenerator(senior, junior, st_, jt, junior_eos_token_ids=[first])
    ro = gen.generate(_prompts(st_), rc, seed=0)
    assert ro.finish_reason[row] == "eos" and ro.response_ids[row][-1] == st_.eos_token_id
    assert ro.author[row][-1] == 0 and np.isnan(ro.logprob[row][-1])
    assert len(gen.last_trace[row]["events"]) == k + 1 and gen.last_trace[row]["events"][-1][2] == first


def test_solo_and_junior_schedules_run_one_model_through_the_lockstep_engine(pair):
    senior, junior, st_, jt = pair
    gen = CrossTokenGenerator(senior, junior, st_, jt)
    solo = dataclasses.replace(RC, schedule="solo")
    ro = gen.generate(_prompts(st_), solo, seed=1)
    ref = CoGenerator(senior, None, st_).generate(_prompts(st_), solo, seed=1)
    assert ro.response_ids == ref.response_ids
    assert all(w.all() for _, w in ro.char_author) and ro.stats["mixed_tokens"] == 0
    jun = dataclasses.replace(RC, schedule="junior", max_new_tokens=12)
    ro = gen.generate(_prompts(st_), jun, seed=1)
    jp = [junior_prompt(st_, jt, p) for p in _prompts(st_)]
    ref = CoGenerator(junior, None, jt).generate(jp, dataclasses.replace(jun, schedule="solo"), seed=1)
    for ids, rids, fr in zip(ro.response_ids, ref.response_ids, ref.finish_reason):
        body = rids[:-1] if fr == "eos" else rids
        got = TokenBytes(st_).bytes_of(ids)
        assert TokenBytes(jt).bytes_of(body).startswith(got) and len(ids) <= 12
    assert all(not a.any() for a in ro.author) and all(not w.any() for _, w in ro.char_author)
    assert ro.stats["senior_positions"] == 0 and ro.stats["junior_positions"] > 0


def test_response_texts_read_the_engines_character_record(pair):
    senior, junior, st_, jt = pair
    ro = CrossTokenGenerator(senior, junior, st_, jt).generate(_prompts(st_), RC, seed=4)
    assert response_texts(st_, ro) == ro.char_author
    same = CoGenerator(senior, None, st_).generate(_prompts(st_), dataclasses.replace(RC, schedule="solo"), seed=4)
    assert [t for t, _ in response_texts(st_, same)] == [st_.decode(i, skip_special_tokens=True)
                                                         for i in same.response_ids]


# ---- the mask mapping, as properties -------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1)), min_size=0, max_size=30), st.data())
def test_token_mask_is_senior_only_when_every_byte_is_the_seniors(runs, data):
    who = np.array([a for n, a in runs for _ in range(n)], dtype=np.uint8)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(who)), max_size=12)))
    bounds = [0, *cuts, len(who)]
    pieces = [bytes(hi - lo) for lo, hi in zip(bounds, bounds[1:])]
    emitted = data.draw(st.lists(st.integers(0, 1), min_size=len(pieces), max_size=len(pieces)))
    author, mixed = token_authors(pieces, who, emitted)
    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        span = who[lo:hi]
        want = emitted[k] if span.size == 0 else int(all(span))
        assert author[k] == want
    assert mixed == sum(0 < who[lo:hi].sum() < hi - lo for lo, hi in zip(bounds, bounds[1:]))
    assert int(author.sum()) <= sum(1 for lo, hi in zip(bounds, bounds[1:]) if hi == lo) + int(who.sum())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.data())
def test_a_character_is_the_seniors_only_when_all_its_bytes_are(text, data):
    raw = text.encode("utf-8")
    who = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(raw), max_size=len(raw))), dtype=np.uint8)
    got_text, got = char_authors(raw, who)
    assert got_text == text
    pos = 0
    for j, ch in enumerate(text):
        n = len(ch.encode("utf-8"))
        assert got[j] == int(who[pos:pos + n].all())
        pos += n
    assert utf8_complete(raw)
    if any(len(c.encode()) > 1 for c in text):
        cut = next(i for i in range(1, len(raw)) if not utf8_complete(raw[:i]))
        assert char_authors(raw[:cut], who[:cut]) is None or utf8_complete(raw[:cut])


def test_lossless_encoding_of_any_bytes(pair):
    _, _, st_, jt = pair
    for tb in (TokenBytes(st_), TokenBytes(jt)):
        for data in (b"", "Tom has 12 apples.".encode(), "é∑😀".encode(), b"\xaa\xff ok \xe2\x82", b"<|im_end|>"):
            ids = tb.encode(data)
            assert tb.bytes_of(ids) == data and not (set(ids) & tb.special)
        assert all(tb.table[int(i)].startswith(b" a") for i in tb.starting_with(b" a"))
        assert len(tb.starting_with(b" a")) == sum(1 for i, b in enumerate(tb.table)
                                                  if b.startswith(b" a") and i not in tb.special)


@pytest.mark.parametrize("repack", [0.0, 1.2])
def test_ragged_feeds_give_the_logits_of_each_rows_real_sequence(pair, repack):
    """RaggedStream against one uncached forward per row: random chunk sizes (0 to 5) per row per step, rows
    dropped mid-way, with and without repacking the cache."""
    from tandem_rl.cogen.engine import _ForwardClock
    from tandem_rl.cogen.ragged_stream import RaggedStream

    senior, _, tok, _ = pair
    g = np.random.default_rng(0)
    seqs = [list(g.integers(3, len(tok), size=n)) for n in (5, 1, 3, 7)]
    stream = RaggedStream(senior, vocab=len(tok), pad_id=0, clock=_ForwardClock(torch.device("cpu")), repack=repack)
    with torch.no_grad():
        stream.feed([list(map(int, s)) for s in seqs])
        rows = list(range(len(seqs)))
        for step in range(8):
            if step == 4:
                rows = [0, 2, 3]
                stream.select([0, 2, 3])
            chunks = [list(map(int, g.integers(3, len(tok), size=g.integers(0, 6)))) for _ in rows]
            stream.feed(chunks)
            for k, (r, c) in enumerate(zip(rows, chunks)):
                seqs[r] = seqs[r] + c
                want = senior(input_ids=torch.tensor([seqs[r]])).logits[0, -1, :len(tok)].float()
                torch.testing.assert_close(stream.logits[k], want, atol=1e-4, rtol=1e-4)
    if repack:  # the cache stays within the bound (it was repacked on the way)
        assert stream.mask.shape[1] <= repack * max(len(seqs[r]) for r in rows) + 16


def test_a_stop_token_with_text_ends_the_row_once_whoever_draws_it(pair):
    """A stop id that is an ordinary token (here "."): its text is written once, by whichever model drew it, and the
    senior's sequence still decodes to exactly the co-written text (a junior-drawn stop used to be added twice)."""
    senior, junior, st_, jt = pair
    sb, jb = TokenBytes(st_), TokenBytes(jt)
    gen = CrossTokenGenerator(senior, junior, st_, jt)
    rc = dataclasses.replace(RC, stop_token_ids=[st_.convert_tokens_to_ids(".")])
    stopped_by = set()
    for seed in range(4):
        ro = gen.generate(_prompts(st_), rc, seed=seed)
        for i, trace in enumerate(gen.last_trace):
            if ro.finish_reason[i] != "stop":
                continue
            stopped_by.add(trace["events"][-1][0])
            assert sb.bytes_of(ro.response_ids[i]) == trace["text"] == jb.bytes_of(trace["junior_ids"])
            assert trace["text"].endswith(b".") and trace["text"].count(b".") == 1
            assert len(ro.author[i]) == len(ro.response_ids[i])
    assert "junior" in stopped_by, stopped_by  # the case that broke: the junior drew the stop token


def test_junior_tokenizer_is_none_only_without_tokenizer_files(pair, tmp_path):
    """A junior folder with no tokenizer shares the senior's (as before); a broken tokenizer is an error, never a
    silent fall-back to the senior's vocabulary."""
    from tandem_rl.models import load_junior_tokenizer

    senior, junior, st_, jt = pair
    assert load_junior_tokenizer(None, st_) is None
    (tmp_path / "bare").mkdir()
    assert load_junior_tokenizer(str(tmp_path / "bare"), st_) is None
    jt.save_pretrained(tmp_path / "own")
    st_.save_pretrained(tmp_path / "same")
    assert load_junior_tokenizer(str(tmp_path / "own"), st_).get_vocab() == jt.get_vocab()
    assert load_junior_tokenizer(str(tmp_path / "same"), st_) is None  # same vocabulary: the lockstep engine
    (tmp_path / "own" / "tokenizer.json").write_text("{not json")
    with pytest.raises(Exception):
        load_junior_tokenizer(str(tmp_path / "own"), st_)
