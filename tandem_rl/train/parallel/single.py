"""One process: the plain meaning of every backend method, and the base class of the data-parallel backends.

``DDP``, ``FSDP2`` and ``ZeRO`` override only what their mode does differently (``parallel/__init__.py`` lists
the methods). Every method here is what a single process does: no wrapper, no gathering, ``loss.backward()``,
``clip_grad_norm_`` then ``optimizer.step()``, checkpoints from the model and optimizer as they are.
"""

from __future__ import annotations

import contextlib
import math
from typing import Optional

import torch

from tandem_rl.train.parallel.ranks import all_sum


class Single:
    """Training in one process (also the base of the launched backends)."""

    name = "one process"
    rank, world = 0, 1
    device: Optional[torch.device] = None  # None: the config's model.device

    @property
    def main(self) -> bool:
        """The rank that writes files (the config, metrics, dumps, checkpoints) and prints."""
        return self.rank == 0

    def describe(self) -> str:
        return self.name

    def junior_device(self, wanted: Optional[str]) -> Optional[str]:
        """Where the junior goes (``model.junior_device``; None = the senior's device)."""
        return wanted

    def loading(self):
        """Context around model loading."""
        return contextlib.nullcontext()

    def wrap(self, objs):
        """Wrap the senior for training and nothing else: ``objs.policy`` runs the gradient forwards, ``objs.senior``
        the generation and no-grad forwards, ``objs.optimizer`` steps; the junior and the reference stay frozen,
        unwrapped and outside the optimizer (asserted). Returns ``objs``."""
        self._prepare(objs)
        objs.parallel = self
        trained = {id(p) for g in objs.optimizer.param_groups for p in g["params"]}
        for model in (objs.junior, objs.reference):
            assert model is None or (model is not objs.policy and not any(
                p.requires_grad or id(p) in trained or hasattr(p, "ds_id") for p in model.parameters())), \
                "the junior/reference must stay frozen and outside the optimizer"
        return objs

    def _prepare(self, objs) -> None:
        objs.policy = objs.senior

    def gathered(self, model):
        """Context holding ``model``'s whole weights for any number of no-grad forwards (generation, old
        log-probs); every rank enters together."""
        return contextlib.nullcontext(model)

    def sync(self, last: bool):
        """Context around one gradient pass (forward and backward) of a mini-batch; ``last``: its last pass."""
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor, *, last: bool, finite: bool) -> None:
        """One pass's backward; ``finite``: every loss of this mini-batch on this rank so far was finite."""
        loss.backward()

    def step(self, model, optimizer, *, finite: bool, grad_clip: float) -> Optional[float]:
        """Clip the gradient norm at ``grad_clip`` (0 = off) and step. Returns the pre-clip norm, or None when the
        update is skipped (a non-finite loss on any rank, or a non-finite norm); the caller clears the gradients."""
        params = [p for p in model.parameters() if p.requires_grad]
        max_norm = grad_clip if grad_clip > 0 else float("inf")
        norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))  # of the all-reduced gradient
        bad, = all_sum([0.0 if finite else 1.0])  # any rank's non-finite loss skips the update everywhere
        if bad or not math.isfinite(norm):
            return None
        optimizer.step()
        return norm

    def model_state(self, model) -> Optional[dict]:
        """The full weights for the checkpoint on rank 0 (a collective), or None: save ``model`` as it is."""
        return None

    def optimizer_state(self, model, optimizer) -> dict:
        """``torch.optim``'s index-keyed state of the whole model on rank 0 (a collective when sharded)."""
        return optimizer.state_dict()

    def load_optimizer_state(self, model, optimizer, state: dict) -> None:
        """Load an index-keyed optimizer state saved by any backend at any world size."""
        optimizer.load_state_dict(state)

    def barrier(self) -> None:
        """Wait for every rank."""
