"""Supervised fine-tuning of the world's tiny models from scratch, and a quick solo-accuracy probe.

Each step draws fresh training-split problems, writes each in one notation (``plain`` with probability
``plain_share``, ``terse`` with ``terse_share``, else ``jargon``), and trains on the response tokens (+ EOS) after
the chat prompt::

    tok = build_tokenizer()
    model = new_model(tok, JUNIOR_SHAPE, seed=0)
    sft(model, tok, SFTSettings(steps=600, plain_share=1.0))      # a junior: plain solutions only
    probe(model, tok, n=200, temperature=1.0).accuracy             # e.g. 0.6

Prompts are built exactly as the training/eval data path builds them (``tandem_rl.data.build_prompt_ids``), so the
shipped models see at RL time the prompt format they were trained on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import torch

from tandem_rl.data.prompts import build_prompt_ids
from tandem_rl.rewards.extract import last_boxed
from tandem_rl.world.problems import INSTRUCTION, notation_of, sample_split, solution



@dataclass(frozen=True)
class Shape:
    """A Llama-style decoder shape (tied embeddings)."""

    hidden: int
    layers: int
    heads: int
    ffn: int


JUNIOR_SHAPE = Shape(hidden=96, layers=4, heads=4, ffn=288)
SENIOR_SHAPE = Shape(hidden=160, layers=6, heads=5, ffn=432)


@dataclass
class SFTSettings:
    steps: int = 1000
    batch: int = 64
    lr: float = 3e-3  # peak; linear warm-up then cosine to 10%
    warmup: int = 50
    plain_share: float = 1.0  # share of examples written in plain steps
    terse_share: float = 0.0  # share written tersely (running values only); the rest is jargon
    seed: int = 0
    eval_every: int = 0  # 0 = never; else probe T=1 accuracy and stop once it reaches stop_at
    stop_at: float = 1.1
    eval_n: int = 200
    log: list = field(default_factory=list)  # (step, loss) and (step, "acc", value) records


def prompt_ids(tok, problem_text: str, instruction: str = INSTRUCTION) -> list[int]:
    """Chat prompt for one problem, built by the data path itself (one user message: problem, space, instruction)."""
    return build_prompt_ids(tok, problem_text, instruction)


def new_model(tok, shape: Shape, seed: int):
    """A freshly initialised ``LlamaForCausalLM`` sized for the world tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=shape.hidden, intermediate_size=shape.ffn,
                      num_hidden_layers=shape.layers, num_attention_heads=shape.heads,
                      num_key_value_heads=shape.heads, max_position_embeddings=256, tie_word_embeddings=True,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _notation(u: float, plain_share: float, terse_share: float) -> str:
    # one uniform draw per example whatever the mix, so the mix never changes which problems are drawn
    return "plain" if u < plain_share else "terse" if u < plain_share + terse_share else "jargon"


def _batch(tok, rng: random.Random, size: int, plain_share: float, terse_share: float = 0.0):
    """Right-padded (input_ids, attention_mask, labels); labels are -100 on prompt and padding."""
    seqs, labels = [], []
    for _ in range(size):
        p = sample_split(rng, "train")
        notation = _notation(rng.random(), plain_share, terse_share)
        prompt = prompt_ids(tok, p.text)
        resp = tok(solution(p, notation), add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        seqs.append(prompt + resp)
        labels.append([-100] * len(prompt) + resp)
    width = max(map(len, seqs))
    ids = torch.full((size, width), tok.pad_token_id)
    lab = torch.full((size, width), -100)
    mask = torch.zeros((size, width), dtype=torch.long)
    for i, (s, l) in enumerate(zip(seqs, labels)):
        ids[i, : len(s)] = torch.tensor(s)
        lab[i, : len(l)] = torch.tensor(l)
        mask[i, : len(s)] = 1
    return ids, mask, lab


def sft(model, tok, settings: SFTSettings, progress: bool = True, position: int = 0, desc: str = "sft"):
    """Train ``model`` in place; returns it in eval mode. Deterministic for a given seed and thread count."""
    from tqdm.auto import tqdm

    rng = random.Random(f"sft-{settings.seed}")
    torch.manual_seed(settings.seed)
    device = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.98), weight_decay=0.01)

    def lr_at(step: int) -> float:
        if step < settings.warmup:
            return (step + 1) / settings.warmup
        t = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    bar = tqdm(range(settings.steps), desc=desc, disable=not progress, position=position, mininterval=2.0)
    for step in bar:
        model.train()
        ids, mask, lab = (t.to(device) for t in _batch(tok, rng, settings.batch, settings.plain_share,
                                                           settings.terse_share))
        loss = model(input_ids=ids, attention_mask=mask, labels=lab).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        settings.log.append((step, loss.item()))
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if settings.eval_every and (step + 1) % settings.eval_every == 0:
            acc = probe(model, tok, n=settings.eval_n, temperature=1.0, seed=1234).accuracy
            settings.log.append((step, "acc", acc))
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{acc:.2f}")
            if acc >= settings.stop_at:
                break
    return model.eval()


@dataclass
class Probe:
    accuracy: float
    jargon_rate: float  # share of responses containing << or >>
    accuracy_plain: float  # accuracy among responses written in plain steps only (nan if none)
    accuracy_jargon: float  # ... in jargon only
    texts: list[str]
    terse_rate: float = float("nan")  # share of responses written tersely
    accuracy_terse: float = float("nan")
    accuracy_by_ops: dict = field(default_factory=dict)  # number of operations -> accuracy
    n_by_notation: dict = field(default_factory=dict)  # problems.notation_of name -> responses


def probe(model, tok, *, n: int = 200, temperature: float = 1.0, seed: int = 0, max_new_tokens: int = 48,
          batch: int = 100, split: str = "test") -> Probe:
    """Solo accuracy of ``model`` on ``n`` problems of ``split`` (``temperature=0`` = greedy); per-notation figures
    use ``problems.notation_of`` (a response mixing notations counts in none of them)."""
    rng = random.Random(f"probe-{split}")
    problems = [sample_split(rng, split) for _ in range(n)]
    texts = []
    model.eval()
    gen = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    for b in range(0, n, batch):
        chunk = problems[b: b + batch]
        texts += _generate(model, tok, [prompt_ids(tok, p.text) for p in chunk], temperature, max_new_tokens, gen)
    correct = [_answer(t) == str(p.answer) for t, p in zip(texts, problems)]
    notations = [notation_of(t) for t in texts]

    def acc(keys, sel):
        xs = [c for c, k in zip(correct, keys) if k == sel]
        return sum(xs) / len(xs) if xs else float("nan")

    n_ops = [len(p.ops) for p in problems]
    by_ops = {k: round(acc(n_ops, k), 4) for k in sorted(set(n_ops))}
    jargon = sum("<<" in t or ">>" in t for t in texts) / n
    return Probe(sum(correct) / n, jargon, acc(notations, "plain"), acc(notations, "jargon"), texts,
                 notations.count("terse") / n, acc(notations, "terse"), by_ops,
                 {k: notations.count(k) for k in ("plain", "jargon", "terse", "mixed", "none")})


def _answer(text: str) -> str | None:
    found = last_boxed(text)
    return found.text.strip() if found else None


@torch.inference_mode()
def _generate(model, tok, prompts: list[list[int]], temperature: float, max_new_tokens: int, gen) -> list[str]:
    """Plain batched sampling with a KV cache (left-padded prompts); stops rows at EOS."""
    width = max(map(len, prompts))
    pad, device = tok.pad_token_id, next(model.parameters()).device
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
    past, logits = out.past_key_values, out.logits[:, -1]
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    rows = [[] for _ in prompts]
    for _ in range(max_new_tokens):
        if temperature <= 0:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits.float() / temperature, -1)
            nxt = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        for i, (t, d) in enumerate(zip(nxt.tolist(), done.tolist())):
            if not d:
                rows[i].append(t)
        done |= nxt == tok.eos_token_id
        if bool(done.all()):
            break
        mask = torch.cat([mask, torch.ones(len(prompts), 1, dtype=mask.dtype, device=device)], 1)
        pos = pos[:, -1:] + 1
        out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=pos, past_key_values=past,
                    use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1]
    return [tok.decode([t for t in r if t != tok.eos_token_id]) for r in rows]
