"""The card profile (workflow/card/Snakefile) plans one card job per listed model."""
from __future__ import annotations


def test_the_card_profile_plans_one_card_job_per_listed_model(tmp_path) -> None:
    """workflow/card/Snakefile on a config listing two models: a dry run plans one ``card`` job for each, with its options."""
    import subprocess

    import yaml
    from workflow_helpers import REPO, SNAKEMAKE

    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    config = {"cards": [{"name": "one", "model": str(tmp_path / "one")},
                        {"name": "two", "model": str(tmp_path / "two"), "context": 16, "objective": "logit"}],
              "defaults": {"context": 128, "sequences": 8, "max_memory_mb": 512, "objective": "loss", "buffer": 0, "text": ""}}
    (tmp_path / "card.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([str(SNAKEMAKE), "--snakefile", str(REPO / "workflow" / "card" / "Snakefile"), "--directory",
                             str(tmp_path), "--configfile", str(tmp_path / "card.yaml"), "--cores", "1", "--dry-run",
                             "--printshellcmds"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    commands = [line for line in result.stdout.splitlines() if "-m analysis.card" in line]
    assert len(commands) == 2
    two = next(c for c in commands if "results/cards/two" in c)
    assert "--context 16" in two and "--objective logit" in two and "--max-memory-mb 512" in two
