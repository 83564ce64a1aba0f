"""The world's real HF tokenizer: byte-level BPE (GPT-2/Qwen ``Ġ`` word starts), a few hundred tokens, ChatML.

Every word of the world is one token, and so is every number 0..MAX_VALUE (with and without the leading space), so
a calculator annotation is one "word" of 7 tokens of which only the first starts a word::

    >>> tok = build_tokenizer()
    >>> tok.convert_ids_to_tokens(tok(" <<20-2=18>>")["input_ids"])
    ['Ġ<<', '20', '-', '2', '=', '18', '>>']
    >>> tok.convert_ids_to_tokens(tok(" 20 minus 2 is 18 .\\n\\n")["input_ids"])
    ['Ġ20', 'Ġminus', 'Ġ2', 'Ġis', 'Ġ18', 'Ġ.', 'ĊĊ']

The full 256-symbol byte alphabet is kept, so any text still encodes losslessly (unknown words fall apart into
bytes). Specials: ``<|endoftext|>`` (pad), ``<|im_start|>``, ``<|im_end|>`` (EOS), as in Qwen.
"""

from __future__ import annotations

from tandem_rl.data.prompts import user_message
from tandem_rl.world.problems import ITEMS, MAX_VALUE, NAMES, VERBS, INSTRUCTION, make_problem
from tandem_rl.world.problems import jargon_solution, plain_solution

# Fixed, not max(N_OPS): the pair counts (hence the merges and every token id) stay those of world v1, whose
# tokenizer already has every word and number of v2 (terse steps are number tokens).
CORPUS_OPS = 3
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _corpus() -> list[str]:
    """Texts covering every word the world writes (one of each is enough: merges run to completion)."""
    texts = [INSTRUCTION, "user\n", "assistant\n", "system\n", "\n\n", " \n\n"]
    texts += [f" {v}" for v in range(MAX_VALUE + 1)] + [f"{v}" for v in range(MAX_VALUE + 1)]
    for name in NAMES:
        for item in ITEMS:
            for op in VERBS:
                for verb in VERBS[op]:
                    p = make_problem(10, [(op, 1)] * CORPUS_OPS, name, item, [verb] * CORPUS_OPS)
                    texts += [user_message(p.text, INSTRUCTION), p.text, plain_solution(p), jargon_solution(p)]
    return texts


def build_tokenizer():
    """A fresh ``PreTrainedTokenizerFast`` for the world (deterministic: same corpus, same merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4096,  # an upper bound never reached: merging stops when every word is one token
        min_frequency=1,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Many copies keep the pair counts far from ties, so merge order cannot depend on hash order.
    core.train_from_iterator(_corpus() * 3, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  bos_token=None, unk_token=None, model_max_length=512)
    tok.chat_template = CHAT_TEMPLATE
    check_tokenizer(tok)
    return tok


def check_tokenizer(tok) -> None:
    """Raise if a number or a world word is not a single token (the world's notations rely on it)."""
    for v in range(MAX_VALUE + 1):
        for text in (f" {v}", f"{v}"):
            ids = tok(text, add_special_tokens=False)["input_ids"]
            if len(ids) != 1:
                raise ValueError(f"tokenizer: {text!r} is {len(ids)} tokens, expected 1")
    ids = tok(" <<20-2=18>>", add_special_tokens=False)["input_ids"]
    if len(ids) != 7:
        raise ValueError(f"tokenizer: a jargon annotation is {len(ids)} tokens, expected 7")
    for s in SPECIALS:
        if tok.convert_tokens_to_ids(s) is None:
            raise ValueError(f"tokenizer: special {s!r} missing")
