"""Named, independent random streams derived from one integer seed."""
from __future__ import annotations

import hashlib
import sys

import torch

EVALUATION_SEED = 0  # the root of the held-out streams; each stream is named by its task and training seed (held_out.py)


def derive_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for ``stream``, independent of other streams of the same seed."""
    digest = hashlib.sha256(f"{seed}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, stream: str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, stream))


def use_deterministic_algorithms() -> None:
    """Make torch kernels deterministic (or raise), as ``torch.use_deterministic_algorithms(True)``.

    That public call first imports ``torch._inductor`` to set the compiler's flag too, which
    costs about 2.5 s per process (an eighth of a default-profile job). Eager kernels read only
    the flag set here; the compiler's flag is set as well whenever the compiler is loaded.

    Deterministic mode also fills every new uninitialised tensor with NaN by default (an
    ``aten::fill_`` per ``torch.empty``, ~250 a default training step): switched off here, since
    no kernel of the study reads memory it did not write (training is bitwise the same either
    way; a default step is 1.03-1.04x faster without it, docs/performance.md).
    """
    torch._C._set_deterministic_algorithms(True, warn_only=False)
    torch._C._set_deterministic_fill_uninitialized_memory(False)
    inductor_config = sys.modules.get("torch._inductor.config")
    if inductor_config is not None:
        inductor_config.deterministic = True
