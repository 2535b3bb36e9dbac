"""The Snakemake catalog's layout: plain ``snakemake`` runs config/config.yaml, and no other profile inherits its keys.

Snakemake deep-merges every ``--configfile`` over the Snakefile's ``configfile:``; a plain directive would leak the
default study's tasks, experiments and settings into the smoke, paper and scaling profiles. The Snakefile loads the
default only when the command line names no config file. These tests run the Snakefile's own header (everything
before its first ``include:``) through Snakemake's API, in well under a second a profile.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
from snakemake.utils import update_config
from workflow_helpers import REPO, SNAKEFILE

from analysis.config import schema
from analysis.grid import GRID_FACTORS
from analysis.tasks import TASKS
from tooling.profiles import CONFIG_DIR, config_file, overlay_file

GUARD = re.compile(r"^if not workflow\.overwrite_configfiles:\n\n    (configfile: .*)$", re.M)
OVERLAID = {"exploratory": "default", "scaling-exploratory": "scaling"}  # overlay -> the profile it is merged over


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def snakefile_head() -> str:
    """The Snakefile up to its first include: where ``config`` is set, before any rule reads it."""
    return SNAKEFILE.read_text().split("\ninclude:", 1)[0]


def config_seen(head: str, configfiles: list[Path], tmp_path: Path) -> dict:
    """The ``config`` that ``head`` gives the rules under ``snakemake --configfile <configfiles>`` in the repository root."""
    (tmp_path / "config").symlink_to(CONFIG_DIR)  # the catalog's config/config.yaml, relative to the working directory
    seen = tmp_path / "config.json"
    dump = f"\nimport json\n\nopen({str(seen)!r}, 'w').write(json.dumps(config))\n\n\nrule all:\n    output: []\n"
    (tmp_path / "Snakefile").write_text(head + dump)
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        api.workflow(ResourceSettings(cores=1), ConfigSettings(configfiles=configfiles), snakefile=tmp_path / "Snakefile",
                     workdir=tmp_path).list_rules()
    return json.loads(seen.read_text())


def overlaid(profile: str, overlay: str) -> dict:
    """What an overlay means: Snakemake's deep merge of the overlay over its profile."""
    merged = copy.deepcopy(load(config_file(profile)))
    update_config(merged, load(overlay_file(overlay)))
    return merged


PROFILES = sorted(path.stem for path in CONFIG_DIR.glob("*.yaml") if path.name != "config.yaml")


def test_plain_snakemake_runs_the_default_study(tmp_path: Path) -> None:
    assert config_seen(snakefile_head(), [], tmp_path) == load(config_file("default"))


@pytest.mark.parametrize("profile", PROFILES)
def test_a_profile_is_its_file_alone(profile: str, tmp_path: Path) -> None:
    assert config_seen(snakefile_head(), [config_file(profile)], tmp_path) == load(config_file(profile))


@pytest.mark.parametrize(("overlay", "profile"), sorted(OVERLAID.items()))
def test_an_overlay_is_merged_over_its_profile_only(overlay: str, profile: str, tmp_path: Path) -> None:
    files = [config_file(profile), overlay_file(overlay)]
    assert config_seen(snakefile_head(), files, tmp_path) == overlaid(profile, overlay)


def test_every_overlay_names_its_profile() -> None:
    assert sorted(path.stem for path in (CONFIG_DIR / "overlays").glob("*.yaml")) == sorted(OVERLAID)


def test_a_plain_configfile_directive_would_leak_the_default_into_smoke(tmp_path: Path) -> None:
    """The guard's planted offender: without the condition, smoke gets the default study's tasks."""
    head = snakefile_head()
    assert len(GUARD.findall(head)) == 1 and "config/config.yaml" in GUARD.findall(head)[0]
    leaky = GUARD.sub(r"\1", head)
    seen = config_seen(leaky, [config_file("smoke")], tmp_path)
    assert seen != load(config_file("smoke"))
    assert set(load(config_file("default"))["tasks"]) - set(load(config_file("smoke"))["tasks"]) <= set(seen["tasks"])


def keys_of(section: dict, prefix: str = "") -> set[str]:
    """Every dotted key a config may set, from the schema's nested ``properties``."""
    keys = set()
    for name, entry in section.get("properties", {}).items():
        keys |= {prefix + name} | keys_of(entry, f"{prefix}{name}.")
    return keys


def test_config_readme_describes_every_key() -> None:
    readme = (CONFIG_DIR / "README.md").read_text()
    described = set(re.findall(r"^\| `([\w.<>-]+)`", readme, re.M))
    wanted = keys_of(schema()) | {f"experiments.<name>.{key}" for key in keys_of(schema()["properties"]["experiments"]["additionalProperties"])}
    wanted |= {f"experiments.<name>.grid.{factor}" for factor in GRID_FACTORS}
    wanted |= {"tasks.<label>.name"} | {f"tasks.<label>.{field.name}" for name in TASKS.names() for field in dataclasses.fields(TASKS.get(name))}
    assert not wanted - described, f"config/README.md does not describe: {sorted(wanted - described)}"


def test_the_catalog_finds_its_files() -> None:
    usage = load(REPO / ".snakemake-workflow-catalog.yml")["usage"]
    assert usage["software-stack-deployment"] and "report" in usage
    assert (REPO / "workflow" / "Snakefile").is_file() and (CONFIG_DIR / "README.md").is_file()
