"""Shared test setup: tiny models run fastest on one thread (and the CI machine has only two cores)."""

import os
import sys

import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(__file__))  # `from tiny import tiny_model, tiny_tokenizer`
