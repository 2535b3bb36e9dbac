"""Where a study profile's config file lives: the Snakemake catalog's layout (config/README.md).

``config/config.yaml`` is the default study, the one plain ``snakemake`` runs; every other profile is
``config/<profile>.yaml`` and every overlay ``config/overlays/<name>.yaml``.
"""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "config"
DEFAULT_PROFILE = "default"


def config_file(profile: str, root: Path = REPO) -> Path:
    """The config file of ``profile`` (``default`` is the catalog's ``config/config.yaml``)."""
    name = "config" if profile == DEFAULT_PROFILE else profile
    return root / "config" / f"{name}.yaml"


def overlay_file(name: str, root: Path = REPO) -> Path:
    """An overlay, merged over a profile's config (``make study OVERLAY=name``)."""
    return root / "config" / "overlays" / f"{name}.yaml"
