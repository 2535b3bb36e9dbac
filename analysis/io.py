"""Atomic writes: a result file either exists whole or not at all."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    import pandas as pd


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write(path: str | Path, writer: Callable[[Path], None]) -> None:
    with atomic_path(path) as tmp:
        writer(tmp)


def write_json(path: str | Path, data: Any) -> None:
    _write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n"))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def write_rows(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """A small CSV from dictionaries (no pandas import: training jobs start faster)."""
    import csv

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else [])
            writer.writeheader()
            writer.writerows(rows)

    _write(path, write)


def write_table(path: str | Path, table: pd.DataFrame) -> None:
    """A tidy CSV; floats to 7 significant digits (float32 precision) to keep big tables small."""
    _write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.7g"))


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Atomically, and byte-for-byte reproducible: serialised in memory first, because torch.save to a
    path names the archive's root folder after the (here random, temporary) file name."""
    import io

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    _write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))


class CheckpointError(RuntimeError):
    """A checkpoint file that is damaged, truncated or not a checkpoint of this study."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely (tensors and plain containers only), or say plainly which file is bad."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file; the first line says which
        reason = (str(exc).strip().splitlines() or [""])[0].split(". ")[0][:160]
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {reason}); it is damaged or not a "
            f"checkpoint of this study: delete its run folder ({Path(path).parent}) and rerun"
        ) from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(payload).__name__}, not a checkpoint of this study; "
                              f"delete its run folder ({Path(path).parent}) and rerun")
    return payload
