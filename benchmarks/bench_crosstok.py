"""Cost of a junior with its own tokenizer (not a test): the cross-tokenizer generator against the lockstep engine.

Same senior, same prompts, same ``word`` schedule and sampling, exactly ``--new-tokens`` draws per row... as far
as each engine allows (EOS disabled everywhere; the cross-tokenizer budget counts the senior's tokens of the text,
so its rows can hold slightly other numbers of tokens: throughput is reported per senior token of the result):

    1. lockstep     ``CoGenerator``: the junior shares the senior's tokenizer (the fast path, unchanged)
    2. crosstok=    ``CrossTokenGenerator`` forced onto the *same* tokenizer pair: the cost of per-row, text-level
                    decoding alone (what the per-row loop, the handoff encodes and the healing cost)
    3. crosstok     ``CrossTokenGenerator`` with a junior of another tokenizer (the real case; same junior shape)

Two byte-level BPE tokenizers are trained here on the repository's docs (``--vocab`` and ~3/4 of it, specials in
another order), so nothing is downloaded; the models are random-init Llamas. Each measurement runs once as a
warm-up, then ``--repeats`` times (the best is kept); ratios are of CPU time (one thread: robust on shared cores),
wall-clock ratios beside them. Also checked on every row of 3: both token sequences decode
to the same bytes, and the senior's loss mask is 1 only on tokens whose every byte the senior wrote.

    python benchmarks/bench_crosstok.py                    # CPU, about a minute
    python benchmarks/bench_crosstok.py --batch 32 --new-tokens 64     # more rows: the overhead grows with them
    python benchmarks/bench_crosstok.py --smoke            # seconds: checks the script still runs
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tandem_rl.cogen.config import RolloutConfig  # noqa: E402
from tandem_rl.cogen.crosstok import CrossTokenGenerator  # noqa: E402
from tandem_rl.cogen.engine import CoGenerator  # noqa: E402
from tandem_rl.cogen.token_bytes import TokenBytes  # noqa: E402


def train_tokenizer(vocab: int, specials: list[str]):
    """A byte-level BPE trained on docs/*.md (deterministic), as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(texts, trainer=trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def llama(vocab: int, hidden: int, layers: int, seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=3 * hidden, num_hidden_layers=layers,
                      num_attention_heads=max(1, hidden // 32), num_key_value_heads=max(1, hidden // 32),
                      max_position_embeddings=4096, tie_word_embeddings=True)
    return LlamaForCausalLM(cfg).eval()


def timed(gen, prompts, rc, repeats: int):
    """(best wall seconds, best CPU seconds of this process, the last Rollouts). CPU seconds (one thread) hold
    up on a shared machine, where wall time also counts the time other jobs held the cores."""
    gen.generate(prompts, rc, seed=0)  # warm-up
    wall, cpu, out = float("inf"), float("inf"), None
    for r in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = gen.generate(prompts, rc, seed=1 + r)
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu, out


def check_rows(gen: CrossTokenGenerator, ro, tok_s, tok_j) -> int:
    """Rows where both models' sequences hold the same bytes and the mask is 1 only on all-senior tokens."""
    sb, jb = TokenBytes(tok_s), TokenBytes(tok_j)
    ok = 0
    for i, trace in enumerate(gen.last_trace):
        ids = ro.response_ids[i]
        same = jb.bytes_of(trace["junior_ids"]) == trace["text"] and trace["text"].startswith(sb.bytes_of(ids))
        who = np.full(len(trace["text"]), 0, np.uint8)
        starts = np.cumsum([0] + [len(sb.table[t]) for t in ids])
        for writer, k, tok, _, heal in trace["events"]:
            if writer == "senior" and k < len(ids):
                who[starts[k] + len(heal):starts[k + 1]] = 1
        mask_ok = all(ro.author[i][k] == int(who[starts[k]:starts[k + 1]].all())
                      for k in range(len(ids)) if starts[k + 1] > starts[k])
        ok += int(same and mask_ok)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs (timings mean nothing)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=96)
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu, cuda, ... (the models' device; GPU runs not tried yet)")
    args = ap.parse_args()
    if args.smoke:
        args.batch, args.new_tokens, args.prompt_tokens, args.vocab, args.repeats = 2, 8, 8, 600, 1
    torch.set_num_threads(args.threads)

    tok_s = train_tokenizer(args.vocab, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok_j = train_tokenizer(args.vocab * 3 // 4, ["<|im_end|>", "<|endoftext|>", "<|im_start|>"])
    shapes = (256, 4) if not args.smoke else (64, 2)
    senior = llama(len(tok_s), *shapes, seed=0).to(args.device)
    junior_same = llama(len(tok_s), shapes[0] // 2, shapes[1] // 2, seed=1).to(args.device)
    junior_other = llama(len(tok_j), shapes[0] // 2, shapes[1] // 2, seed=1).to(args.device)
    g = torch.Generator().manual_seed(0)
    text_ids = tok_s.encode((ROOT / "docs" / "engine.md").read_text())
    starts = torch.randint(0, len(text_ids) - args.prompt_tokens, (args.batch,), generator=g).tolist()
    prompts = [text_ids[s:s + args.prompt_tokens] for s in starts]  # real text: realistic word starts
    rc = RolloutConfig(schedule="word", p=0.5, max_new_tokens=args.new_tokens, temperature=1.0)

    gens = {"lockstep": CoGenerator(senior, junior_same, tok_s, eos_token_ids=[]),
            "crosstok=": CrossTokenGenerator(senior, junior_same, tok_s, tok_s, eos_token_ids=[],
                                             junior_eos_token_ids=[]),
            "crosstok": CrossTokenGenerator(senior, junior_other, tok_s, tok_j, eos_token_ids=[],
                                            junior_eos_token_ids=[])}
    print(f"senior {sum(p.numel() for p in senior.parameters()) / 1e6:.2f}M params, junior "
          f"{sum(p.numel() for p in junior_other.parameters()) / 1e6:.2f}M; vocab {len(tok_s)} / {len(tok_j)}; "
          f"batch {args.batch}, {args.new_tokens} new tokens, word p=0.5, {args.threads} thread(s), {args.device}")
    rate, cpu_rate = {}, {}
    for name, gen in gens.items():
        seconds, cpu, ro = timed(gen, prompts, rc, args.repeats)
        tokens = sum(len(r) for r in ro.response_ids)
        rate[name], cpu_rate[name] = tokens / seconds, tokens / cpu
        extra = ""
        if isinstance(gen, CrossTokenGenerator):
            ok = check_rows(gen, ro, tok_s, gen.junior_tokenizer)
            extra = (f"  healed {ro.stats['healed']}, mixed tokens {ro.stats['mixed_tokens']} "
                     f"({ro.stats['mixed_tokens'] / max(tokens, 1):.1%}); rows checked {ok}/{len(ro)}")
            if ok != len(ro):
                print(f"FAILED: {name}: {len(ro) - ok} rows break a cross-tokenizer invariant")
                return 1
        print(f"{name:10s} {seconds:7.3f} s wall {cpu:7.3f} s CPU  {cpu_rate[name]:8.1f} senior tokens per CPU s  "
              f"positions {ro.stats['senior_positions']}+{ro.stats['junior_positions']}  senior fraction "
              f"{ro.senior_fraction():.2f}{extra}")
    print(f"crosstok= / lockstep = {cpu_rate['lockstep'] / cpu_rate['crosstok=']:.2f}x slower (CPU time; wall "
          f"{rate['lockstep'] / rate['crosstok=']:.2f}x)")
    print(f"crosstok / lockstep = {cpu_rate['lockstep'] / cpu_rate['crosstok']:.2f}x slower (CPU time; wall "
          f"{rate['lockstep'] / rate['crosstok']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
