"""The exact software a study ran with, as text: every installed distribution pinned, pip-freeze style.

Written into the results (and so into the manifest and the archive), because
``requirements.lock`` says what should be installed and this says what was.
"""
from __future__ import annotations

import platform
from importlib import metadata


def installed_distributions() -> list[str]:
    """``name==version`` for every distribution importable here, sorted case-insensitively."""
    pins = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:  # a broken install can leave metadata without a name
            pins.setdefault(name.lower(), f"{name}=={distribution.version}")
    return [pins[key] for key in sorted(pins)]


def environment_text() -> str:
    """A header naming the interpreter and platform, then one pin per line."""
    header = (
        f"# {platform.python_implementation()} {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}\n"
    )
    return header + "".join(f"{pin}\n" for pin in installed_distributions())
