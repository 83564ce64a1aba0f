"""Test-side entry point for the 2-process DeepSpeed runs: ``tandem_rl.cli`` without DeepSpeed's one-time g++ build.

DeepSpeed compiles a shared-memory CPU all-reduce op with g++ the first time a process group starts (~1 min, cached
in ~/.cache/torch_extensions; no setting turns it off). These tiny runs do not need it: gloo does the collectives.
Only the tests do this; library code never touches DeepSpeed's internals this way.

    python -m torch.distributed.run --nproc_per_node 2 tests/deepspeed_worker.py train CONFIG.yaml ...
"""

import importlib
import sys

# ``import deepspeed.comm.torch as m`` would bind deepspeed.comm's ``torch`` attribute (the real torch): use sys.modules
importlib.import_module("deepspeed.comm.torch")
sys.modules["deepspeed.comm.torch"].build_shm_op = lambda: None

from tandem_rl.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
