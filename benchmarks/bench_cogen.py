"""Throughput of the co-generation engine (not a test): prints tokens/s and ratios on identical work.

Every measurement decodes the same prompts (random ids, equal lengths) for exactly ``--new-tokens`` tokens (EOS
disabled), with the same sampling settings, after a short warm-up run:

    1. HF ``generate`` with the senior alone (dynamic cache)          -> baseline
    2. our engine, ``solo`` schedule (senior alone)                   -> target: >= HF generate
    3. our engine, ``junior`` schedule with the small junior alone    -> the junior's step cost
    4. ``word`` tandem, self-paired junior (a copy of the senior)     -> target: <= 1.1 x 2 x solo
    5. ``word`` tandem, small junior (~4-6x fewer parameters)         -> target: <= 1.1 x (1 + j/s) x solo
    6. with ``--decode`` listing ``static`` and/or ``compiled``: ``solo`` and ``word_small_junior`` again in each
       of those engine modes (``CoGenerator(decode=...)``), timed after one full-length warm-up call (which holds
       the compile) with the same shapes; printed as speed-ups over the dynamic engine and over HF generate, plus
       how many rows came out identical to the dynamic engine's (same seed)

    python benchmarks/bench_cogen.py --preset tiny                      # CPU, seconds
    python benchmarks/bench_cogen.py --preset qwen3 --device cuda       # random-init Qwen3-4B / 0.6B shapes, bf16
    python benchmarks/bench_cogen.py --preset qwen3 --device cuda --decode dynamic,static,compiled   # CUDA graphs
    python benchmarks/bench_cogen.py --smoke --decode dynamic,static    # seconds: checks the script still runs

No downloads: models are random-init from configs, the vocabulary is synthetic (every 3rd token word-initial).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tandem_rl.cogen.config import RolloutConfig  # noqa: E402
from tandem_rl.cogen.engine import CoGenerator  # noqa: E402
from tandem_rl.cogen.static_decode import DECODE_MODES  # noqa: E402

PRESETS = {
    # name: (senior shape, junior shape, vocab, batch, prompt length, new tokens, dtype)
    "tiny": (dict(hidden_size=256, num_hidden_layers=8, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=768, head_dim=64),
             dict(hidden_size=128, num_hidden_layers=8, num_attention_heads=2, num_key_value_heads=1,
                  intermediate_size=384, head_dim=64),
             2048, 8, 32, 64, "float32"),
    "qwen3": (dict(hidden_size=2560, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
                   intermediate_size=9728, head_dim=128, tie_word_embeddings=True),
              dict(hidden_size=1024, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                   intermediate_size=3072, head_dim=128, tie_word_embeddings=True),
              151936, 64, 128, 128, "bfloat16"),
    # --smoke: the same code paths in seconds (the tests run it); its timings mean nothing
    "smoke": (dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                   intermediate_size=64, head_dim=16),
              dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1,
                   intermediate_size=32, head_dim=16),
              128, 2, 8, 8, "float32"),
}


class SyntheticVocab:
    """Just enough tokenizer for the engine: ``n`` tokens, every 3rd one word-initial ("Ġw3"), id 0 = pad."""

    def __init__(self, n: int):
        self.n, self.eos_token_id, self.pad_token_id, self.all_special_ids = n, None, 0, []

    def __len__(self):
        return self.n

    def convert_ids_to_tokens(self, ids):
        return [("\u0120w" if i % 3 == 0 else "w") + str(i) for i in ids]

    def batch_decode(self, seqs, **_):
        return [("Ġw" if s[0] % 3 == 0 else "w").replace("Ġ", " ") + str(s[0]) for s in seqs]


def build(shape: dict, vocab: int, dtype, device, seed: int):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    cfg = Qwen3Config(vocab_size=vocab, max_position_embeddings=4096, **shape)
    torch.manual_seed(seed)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen3ForCausalLM(cfg)
    finally:
        torch.set_default_dtype(prev)
    model.generation_config.eos_token_id = None  # fixed lengths: never stop early
    return model.eval().requires_grad_(False)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    ap.add_argument("--dtype", default=None, help="float32 / bfloat16 (default: the preset's)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--new-tokens", type=int, default=None)
    ap.add_argument("--prompt-len", type=int, default=None)
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--warmup-tokens", type=int, default=8)
    ap.add_argument("--reps", type=int, default=None,
                    help="interleaved timed rounds, best kept (default: 3 for tiny, 1 for qwen3)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--skip-hf", action="store_true", help="skip the HF generate baseline")
    ap.add_argument("--smoke", action="store_true", help="--preset smoke --reps 1: seconds, for the tests")
    ap.add_argument("--decode", default="dynamic",
                    help="comma-separated engine decode modes to time: dynamic (always run), static, compiled")
    args = ap.parse_args(argv)
    if args.smoke:
        args.preset, args.reps, args.warmup_tokens = "smoke", 1, 2
    modes = [m for m in args.decode.split(",") if m and m != "dynamic"]
    bad = [m for m in modes if m not in DECODE_MODES]
    if bad:
        ap.error(f"--decode: unknown mode(s) {bad}; choose from {DECODE_MODES}")

    s_shape, j_shape, vocab, batch, plen, new, dtype_name = PRESETS[args.preset]
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}[args.dtype or dtype_name]
    batch, new, plen = args.batch or batch, args.new_tokens or new, args.prompt_len or plen
    if args.threads:
        torch.set_num_threads(args.threads)
    args.reps = args.reps or (1 if args.preset == "qwen3" else 3)
    import transformers

    print(f"# bench_cogen preset={args.preset} device={device} dtype={dtype} batch={batch} prompt_len={plen} "
          f"new_tokens={new} T={args.temperature} torch={torch.__version__} transformers={transformers.__version__}")
    if device == "cpu":
        print(f"# cpu threads: {torch.get_num_threads()}")
    elif torch.device(device).type == "cuda":
        print(f"# gpu: {torch.cuda.get_device_name(device)}")

    t0 = time.perf_counter()
    senior = build(s_shape, vocab, dtype, device, seed=0)
    small = build(j_shape, vocab, dtype, device, seed=1)
    twin = copy.deepcopy(senior)
    n_s, n_j = (sum(p.numel() for p in m.parameters()) for m in (senior, small))
    print(f"# models built in {time.perf_counter() - t0:.1f} s: senior {n_s / 1e6:.1f} M params, "
          f"small junior {n_j / 1e6:.1f} M params ({n_s / n_j:.1f}x smaller)")
    tok = SyntheticVocab(vocab)
    g = torch.Generator().manual_seed(0)
    prompts = torch.randint(1, vocab, (batch, plen), generator=g).tolist()
    rc = RolloutConfig(schedule="solo", max_new_tokens=new, temperature=args.temperature, top_p=1.0, top_k=0)

    def ours(model, junior, schedule, n, decode="dynamic"):
        # Equal prompt lengths need no width bucketing: pad_multiple=1 keeps the static modes' work identical.
        gen = CoGenerator(model, junior, tok, eos_token_ids=[], decode=decode, pad_multiple=1)
        cfg = RolloutConfig(**{**rc.__dict__, "schedule": schedule, "max_new_tokens": n})
        return lambda: gen.generate(prompts, cfg, seed=0)

    def hf(n):
        ids = torch.tensor(prompts, device=device)
        kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                  do_sample=args.temperature > 0, pad_token_id=0, top_k=0, top_p=1.0)
        if args.temperature > 0:
            kw["temperature"] = args.temperature
        return lambda: senior.generate(**kw)

    plan = [("hf_generate", lambda n: hf(n))] if not args.skip_hf else []
    plan += [("solo", lambda n: ours(senior, None, "solo", n)),
             ("junior_alone", lambda n: ours(senior, small, "junior", n)),
             ("word_self_paired", lambda n: ours(senior, twin, "word", n)),
             ("word_small_junior", lambda n: ours(senior, small, "word", n))]
    for mode in modes:
        plan += [(f"solo[{mode}]", lambda n, m=mode: ours(senior, None, "solo", n, m)),
                 (f"word_small_junior[{mode}]", lambda n, m=mode: ours(senior, small, "word", n, m))]
    mismatches = 0  # rows that differ where they must not; --smoke (fp32 CPU, exact) fails on any
    if not args.skip_hf:  # correctness on this device/dtype before speed: greedy solo vs HF generate
        rows = min(batch, 8)
        with torch.inference_mode():
            ids = torch.tensor(prompts[:rows], device=device)
            ref = senior.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16,
                                  min_new_tokens=16, do_sample=False, pad_token_id=0)[:, plen:].tolist()
            mine = CoGenerator(senior, None, tok, eos_token_ids=[]).generate(
                prompts[:rows], RolloutConfig(schedule="solo", max_new_tokens=16, temperature=0.0), seed=0)
        same = sum(a == b for a, b in zip(mine.response_ids, ref))
        print(f"# check: solo greedy == HF generate greedy on {same}/{rows} rows x 16 tokens")
        mismatches += rows - same

    # Warm up everything, then time the measurements in interleaved rounds and keep each one's best round, so
    # that load from other processes (shared CPUs) hits all of them alike.
    # Static modes warm up with the timed call itself: their compiled step and cache are specialised to the shape.
    calls = {name: make(new) for name, make in plan}
    results = {}
    with torch.inference_mode():
        for name, make in plan:
            if "[" in name:
                secs = timed(lambda: results.__setitem__(name, calls[name]()), device)
                print(f"# warm-up {name}: {secs:.1f} s (includes the compile for 'compiled')")
            else:
                make(args.warmup_tokens)()  # allocator, kernels, caches
        runs = {name: float("inf") for name in calls}
        for _ in range(args.reps):
            for name, fn in calls.items():
                runs[name] = min(runs[name], timed(lambda: results.__setitem__(name, fn()), device))
    for name, secs in runs.items():
        print(f"{name:>28}: {secs:7.2f} s  {batch * new / secs:9.1f} tok/s  {1e3 * secs / new:8.2f} ms/step")

    solo = runs["solo"]
    j_over_s = runs["junior_alone"] / solo
    print("# ratios (time / time; lower is faster)")
    if "hf_generate" in runs:
        print(f"solo / hf_generate            = {solo / runs['hf_generate']:.3f}   (target <= 1.0)")
    print(f"junior step / senior step      = {j_over_s:.3f}")
    for name, j in (("word_self_paired", 1.0), ("word_small_junior", j_over_s)):
        target = 1.1 * (1 + j)
        print(f"{name} / solo = {runs[name] / solo:.3f}   (target <= 1.1 x (1 + {j:.3f}) = {target:.3f})")
    if modes:
        print("# decode modes: speed-up = reference time / mode time (higher is faster); rows identical to dynamic")
    for mode in modes:
        for base in ("solo", "word_small_junior"):
            name = f"{base}[{mode}]"
            same = sum(a == b for a, b in zip(results[name].response_ids, results[base].response_ids))
            vs_hf = (f"   vs hf_generate x{runs['hf_generate'] / runs[name]:.3f}"
                     if base == "solo" and "hf_generate" in runs else "")
            print(f"{name:>28}: vs dynamic {base} x{runs[base] / runs[name]:.3f}{vs_hf}   same rows {same}/{batch}")
            mismatches += batch - same
    if args.smoke and mismatches:
        print(f"FAILED: {mismatches} row(s) differ from the reference")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
