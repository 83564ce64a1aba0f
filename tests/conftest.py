"""Shared test setup: tiny models run fastest on one thread (and the CI machine has only two cores)."""

import json
import os
import sys

import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(__file__))  # `from tiny import tiny_model, tiny_tokenizer`


@pytest.fixture()
def tiny_run(tmp_path):
    """A folder with ``model/`` (a random tiny Llama + tokenizer) and ``p.jsonl`` (8 problems, answer 3)."""
    from tiny import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer()
    tiny_model(tok, seed=0).save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"problem": f"Pick {i}.", "answer": "3"}) + "\n"
                                              for i in range(8)))
    return tmp_path


# Engine tests (test_cogen_*, test_gpu_engine_train): a tiny tokenizer, a senior/junior pair, ragged prompts.
@pytest.fixture(scope="module")
def tok():
    from tiny import tiny_tokenizer

    return tiny_tokenizer()


@pytest.fixture(scope="module")
def pair(tok):
    from tiny import tiny_pair

    return tiny_pair(tok)


@pytest.fixture(scope="module")
def prompts(tok):
    from tiny import ENGINE_TEXTS

    return [tok.encode(t) for t in ENGINE_TEXTS]


@pytest.fixture(scope="module")
def digit_task(tmp_path_factory):
    """(model folder, problems file) for the digit task (``tiny.digit_task``), built once per test module."""
    from tiny import digit_task as make

    return make(tmp_path_factory.mktemp("digit"))
