"""Device choice, precision and compilation: switched off cleanly on CPU, recorded per run.

No GPU is available to the test suite; GPU branches are checked by faking
``torch.cuda.is_available`` (nothing is allocated on a device).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from workflow_helpers import smoke_config

from analysis.config import load_study
from analysis.device import DEVICE_ENV, ComputeSettings, DeviceError, resolve_device
from analysis.training import train_run


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


def test_auto_picks_the_cpu_without_a_gpu(no_gpu: None) -> None:
    assert resolve_device("auto", environ={}).type == "cpu"


def test_auto_picks_the_gpu_when_there_is_one(fake_gpu: None) -> None:
    assert resolve_device("auto", environ={}).type == "cuda"


def test_environment_overrides_the_config(fake_gpu: None) -> None:
    assert resolve_device("cuda", environ={DEVICE_ENV: "cpu"}).type == "cpu"


def test_asking_for_a_missing_gpu_fails_with_a_clear_message(no_gpu: None) -> None:
    with pytest.raises(DeviceError, match="no CUDA device"):
        resolve_device("cuda", environ={})
    with pytest.raises(DeviceError, match=DEVICE_ENV):
        resolve_device("auto", environ={DEVICE_ENV: "cuda"})
    with pytest.raises(DeviceError, match="allowed values"):
        resolve_device("tpu", environ={})


def test_cpu_gets_no_autocast_and_no_compilation(no_gpu: None) -> None:
    settings = ComputeSettings.resolve({"device": "auto", "precision": "bf16", "compile": True}, environ={})
    assert settings.autocast_dtype is None and settings.compile is False
    model = torch.nn.Linear(2, 2)
    assert settings.compiled(model) is model
    with settings.autocast():
        assert model(torch.ones(1, 2)).dtype == torch.float32
    described = settings.describe()
    assert described["training_precision"] == "fp32" and described["compile"] is False


def test_gpu_gets_bf16_autocast_and_compiles_only_when_asked(fake_gpu: None) -> None:
    auto = ComputeSettings.resolve({"device": "auto"}, environ={})
    assert auto.device.type == "cuda" and auto.autocast_dtype == torch.bfloat16 and not auto.compile
    exact = ComputeSettings.resolve({"device": "auto", "precision": "fp32", "compile": True}, environ={})
    assert exact.autocast_dtype is None and exact.compile


def test_each_run_records_its_compute_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    spec = next(iter(load_study(smoke_config()).runs.values()))
    spec = dataclasses.replace(spec, train={**spec.train, "steps": 2, "log_checkpoints": 0})
    record = train_run(spec, tmp_path, progress=False)
    assert record["compute"]["device_type"] == "cpu"
    assert record["compute"]["training_precision"] == "fp32" and record["compute"]["compile"] is False



def test_the_prepared_gpu_check_runs_without_snakemake_or_typst(tmp_path: Path) -> None:
    """The GPU image lacks the study's full environment: the check must need only torch and the scientific stack."""
    import json
    import subprocess
    import sys

    blocker = (
        "import sys, runpy\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('snakemake', 'typst', 'seaborn', 'matplotlib'):\n"
        "            raise ImportError(f'{name} is not on the GPU image')\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv = ['gpu_check', '--out', sys.argv[1], '--device', 'cpu', '--quick']\n"
        "runpy.run_module('tooling.gpu_check', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", blocker, str(tmp_path)], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    names = {"gpu_machine.json", "gpu_regimes.json", "gpu_gradient_methods.json", "gpu_sine_run.json"}
    assert names <= {p.name for p in tmp_path.iterdir()}
    regimes = json.loads((tmp_path / "gpu_regimes.json").read_text())["results"]["learned"]
    assert set(regimes) == {"standard", "myopic-state", "myopic-full"} and regimes["standard"]["ratio_to_standard_median"] == 1.0
    run = json.loads((tmp_path / "gpu_sine_run.json").read_text())
    assert run["quick"] and run["steps"] == 20 and run["measure_seconds_by_measure"] and isinstance(run["learned"], bool)


def test_gpu_preparation_fixes_the_cublas_workspace_and_relaxes_determinism_to_warnings(fake_gpu: None) -> None:
    """Strict determinism on CUDA raises at the first cuBLAS matmul without a fixed workspace."""
    mode, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    environ: dict[str, str] = {}
    try:
        torch._C._set_deterministic_algorithms(True, warn_only=False)
        ComputeSettings.resolve({"device": "cuda"}, environ={}).prepare(environ)
        assert environ == {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    cpu = ComputeSettings.resolve({"device": "cpu"}, environ={})
    before = torch.is_deterministic_algorithms_warn_only_enabled()
    cpu.prepare(environ := {})
    assert environ == {} and torch.is_deterministic_algorithms_warn_only_enabled() == before
