"""Tiny, deterministic test fixtures: a real byte-level BPE tokenizer with a chat template, and tiny HF causal LMs.

Built from code in well under a second, so every test module can use them without downloads::

    tok = tiny_tokenizer()                      # PreTrainedTokenizerFast, byte-level BPE, ChatML template
    senior = tiny_model(tok, seed=0)            # LlamaForCausalLM, ~100k params
    junior = tiny_model(tok, seed=1, arch="qwen3", hidden=32)
"""

from __future__ import annotations

import functools

import torch

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "Tom has 12 apples and buys 7 more. How many apples does he have now?",
    "12 plus 7 is 19. The answer is \\boxed{19}.",
    "First, compute 3 times 4 = 12.\n\nThen add 5: 12 + 5 = 17.\n\nSo the answer is \\boxed{17}.",
    "Let x be the number. Then 2x + 3 = 11, so x = 4. Answer: \\boxed{4}",
    "The fraction \\frac{1}{2} equals 0.5, and \\sqrt{8} = 2\\sqrt{2}.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
]


@functools.lru_cache(maxsize=None)
def _tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    return tok.to_str()


def tiny_tokenizer():
    """A fresh PreTrainedTokenizerFast (byte-level BPE; EOS = <|im_end|>; pad = <|endoftext|>; ChatML template)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json()),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_model(tok=None, *, seed: int = 0, arch: str = "llama", hidden: int = 64, layers: int = 2,
               heads: int = 4, vocab_size: int | None = None):
    """A randomly initialised tiny causal LM whose vocabulary matches ``tok`` (fp32, eval mode)."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    tok = tok or tiny_tokenizer()
    v = vocab_size or len(tok)
    common = dict(vocab_size=v, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=512,
                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None,
                  tie_word_embeddings=True)
    torch.manual_seed(seed)
    if arch == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common))
    elif arch == "qwen3":
        model = Qwen3ForCausalLM(Qwen3Config(head_dim=hidden // heads, **common))
    else:
        raise ValueError(arch)
    # Larger-than-default init so that tiny random models have peaked, varied next-token distributions.
    with torch.no_grad():
        model.get_input_embeddings().weight.normal_(0.0, 1.0)
    return model.eval()


def digit_sft(model, tok, *, steps: int = 40, seed: int = 0):
    """Fine-tune ``model`` in place on ``\\boxed{d}`` answers (d a random digit) to "Pick a digit."; returns it in
    eval mode."""
    import torch

    prompt = tok.apply_chat_template([{"role": "user", "content": "Pick a digit."}], tokenize=False,
                                     add_generation_prompt=True)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        digits = torch.randint(0, 10, (32,), generator=g).tolist()
        rows = [p_ids + tok(f"\\boxed{{{d}}}", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
                for d in digits]
        ids = torch.tensor(rows)
        labels = ids.clone()
        labels[:, :len(p_ids)] = -100
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def digit_task(root, *, sft_steps: int = 40, n_problems: int = 16):
    """(model folder, problems file) for the digit task: a tiny Llama fine-tuned on ``\\boxed{d}`` with a random
    digit d, and problems whose only right answer is 3 (the SFT model starts near reward 0.1)."""
    import json

    import torch

    tok = tiny_tokenizer()
    model = digit_sft(tiny_model(tok, seed=0), tok, steps=sft_steps, seed=0)
    model.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    problems = root / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": "Pick a digit.", "answer": "3"}) + "\n"
                                for i in range(n_problems)))
    return root / "model", problems


ENGINE_TEXTS = ["Tom has 12 apples and buys 7 more.", "The answer", "x", "First, compute 3 times 4 = 12.\n\nThen"]


def soften(model, scale=0.25):
    """Shrink the tied embeddings so tiny random models have broad next-token distributions (not just repeats)."""
    import torch

    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(scale)
    return model


def tiny_pair(tok):
    """(senior, junior) for engine tests: a Llama senior and a different architecture (Qwen3) junior whose output
    layer is padded 20 rows beyond the tokenizer, as with real Qwen3 checkpoints; both softened."""
    senior = soften(tiny_model(tok, seed=0))
    junior = soften(tiny_model(tok, seed=1, arch="qwen3", hidden=32, vocab_size=len(tok) + 20))
    return senior, junior


class Killed(Exception):
    """Raised by ``train_until_killed`` to stop a training run the way a kill would."""


def train_until_killed(loop, cfg, monkeypatch, *, step: int, after_save: bool = True) -> None:
    """Run ``loop.train(cfg)`` and stop it at step ``step``'s checkpoint: just after it is on disk (``after_save``)
    or just before it is written. Resume tests then compare ``--resume`` with an uninterrupted run."""
    import pytest

    real_save = loop.save_checkpoint

    def save_and_maybe_die(run_dir, s, *a, **k):
        if s == step and not after_save:
            raise Killed()
        out = real_save(run_dir, s, *a, **k)
        if s == step:
            raise Killed()
        return out

    monkeypatch.setattr(loop, "save_checkpoint", save_and_maybe_die)
    try:
        with pytest.raises(Killed):
            loop.train(cfg, progress=False)
    finally:
        monkeypatch.undo()


class CannedEngine:
    """An engine stand-in that returns ``rows`` (per rollout: ``[(author, text), ...]``, tokenised piece by piece so
    token authorship is exact) for any prompts, row ``r`` of a call being ``rows[r % len(rows)]``."""

    def __init__(self, tok, rows, stats=None):
        self.tok, self.rows, self.stats = tok, rows, stats

    def generate(self, prompts, rollout, *, seed, progress=False):
        import numpy as np

        from tandem_rl.cogen.rollouts import Rollouts

        resp, auth = [], []
        for r in range(len(prompts)):
            ids, who = [], []
            for a, text in self.rows[r % len(self.rows)]:
                piece = self.tok.encode(text, add_special_tokens=False)
                ids += piece
                who += [a] * len(piece)
            resp.append(ids)
            auth.append(np.array(who, dtype=np.uint8))
        ro = Rollouts([list(p) for p in prompts], resp, auth, [np.zeros(len(x), np.float32) for x in resp],
                      [np.zeros(len(x), np.float32) for x in resp], ["eos"] * len(prompts))
        if self.stats:
            ro.stats = dict(self.stats)
        return ro
