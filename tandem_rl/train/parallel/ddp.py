"""DDP through Accelerate: every rank holds the whole senior; gradients are all-reduced on the last backward of a
mini-batch. Also the base of ``FSDP2`` and ``ZeRO``: the ranks, the barrier and the junior's placement of a launched
run live here.
"""

from __future__ import annotations

import contextlib
from typing import Optional

from tandem_rl.train.parallel.single import Single


class DDP(Single):
    """Data parallel with ``torch.nn.parallel.DistributedDataParallel`` (``accelerator.prepare_model``)."""

    name = "DDP"

    def __init__(self, accelerator):
        self.accelerator = accelerator

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def device(self):
        return self.accelerator.device

    def describe(self) -> str:
        return f"{self.name} over {self.world} processes on {self.device.type}"

    def junior_device(self, wanted: Optional[str]) -> Optional[str]:
        """One junior per rank, on the rank's own device (or the CPU): a fixed ``cuda:N`` would stack every rank's
        junior on that one GPU."""
        if wanted is None or wanted == "cpu":
            return wanted
        if self.main:
            print(f"data parallel: model.junior_device={wanted} ignored; each rank keeps its junior on its own device "
                  f"(or set model.junior_device=cpu)")
        return None

    def _prepare(self, objs) -> None:
        # the optimizer keeps the senior's own parameters; generation and no-grad forwards use the plain module
        self.policy = self.accelerator.prepare_model(objs.senior, device_placement=False)
        objs.policy, objs.senior = self.policy, self.accelerator.unwrap_model(self.policy)

    def sync(self, last: bool):
        # DDP decides at forward time whether the next backward all-reduces: only the mini-batch's last one does
        return contextlib.nullcontext() if last else self.policy.no_sync()

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()
