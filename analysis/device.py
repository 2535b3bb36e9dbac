"""Where and how a run computes: device, training precision, compilation.

Resolved once per run from the run's ``train`` settings (``device``, ``precision``,
``compile``), with the environment variable ``GRADFLOW_DEVICE`` overriding the device
(so one config runs on a laptop and on a GPU node). Everything resolved is recorded in
the run's ``record.json``: results made on different hardware must say so.

Why these choices:

* bf16 autocast only for the *training* forward pass on a GPU (tensor cores, no loss
  scaling needed); the loss, the evaluation and every measure stay in fp32 (or fp64),
  and TF32 matmuls are switched off so that fp32 means fp32.
* On CPU: no autocast, no compilation; a CPU run computes exactly what plain fp32 PyTorch
  computes.
* ``torch.compile`` only where asked for (``compile: true``) and only on a GPU: on this
  project's CPU machine the compile time (seconds per model) exceeds what a few hundred
  small steps can win back.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

DEVICE_ENV = "GRADFLOW_DEVICE"
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


class DeviceError(RuntimeError):
    """A requested device or setting this machine cannot provide, stated plainly."""


def resolve_device(requested: str = "auto", environ: dict[str, str] | None = None) -> torch.device:
    """``auto`` -> the first CUDA device if there is one, else the CPU; ``GRADFLOW_DEVICE`` wins over the config."""
    environ = os.environ if environ is None else environ
    choice = environ.get(DEVICE_ENV) or requested
    if choice.split(":")[0] not in DEVICES:
        raise DeviceError(f"device {choice!r} is not allowed; allowed values: {', '.join(DEVICES)} (or cuda:<index>)")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(choice)
    if device.type == "cuda" and not torch.cuda.is_available():
        source = f"${DEVICE_ENV}" if environ.get(DEVICE_ENV) else "train.device"
        raise DeviceError(f"{source} asks for {choice!r} but this machine has no CUDA device; use 'auto' or 'cpu'")
    return device


@dataclass(frozen=True)
class ComputeSettings:
    """The resolved compute settings of one run."""

    device: torch.device
    autocast_dtype: torch.dtype | None  # None: full fp32 training
    compile: bool

    @classmethod
    def resolve(cls, train: dict[str, Any], environ: dict[str, str] | None = None) -> ComputeSettings:
        device = resolve_device(train.get("device", "auto"), environ)
        precision = train.get("precision", "auto")
        if precision not in PRECISIONS:
            raise DeviceError(f"train.precision {precision!r} is not allowed; allowed values: {', '.join(PRECISIONS)}")
        on_gpu = device.type == "cuda"
        bf16 = on_gpu and precision in ("auto", "bf16")  # bf16 on CPU is slower here and changes results: never
        return cls(device=device, autocast_dtype=torch.bfloat16 if bf16 else None, compile=bool(train.get("compile")) and on_gpu)

    def prepare(self, environ: dict[str, str] | None = None) -> None:
        """Process-wide switches for a GPU; nothing on CPU. Call before the first CUDA kernel.

        * fp32 matmuls stay fp32 (measures are read in fp32): TF32 off.
        * Deterministic mode (``analysis.seeding``) makes cuBLAS raise at the first matmul
          unless ``CUBLAS_WORKSPACE_CONFIG`` fixes its workspace, so it is set here.
        * Some CUDA kernels (attention backward among them) have no deterministic version;
          strict mode would stop a run there, so on a GPU it only warns. A GPU run is thus
          reproducible where its kernels allow, and ``describe`` says which mode ran.
        """
        if self.device.type != "cuda":
            return
        (os.environ if environ is None else environ).setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        if torch.are_deterministic_algorithms_enabled():
            torch._C._set_deterministic_algorithms(True, warn_only=True)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The training forward pass's precision context (a no-op on CPU)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def compiled(self, module: torch.nn.Module) -> Callable[..., Any]:
        """``module`` itself, or a compiled wrapper sharing its parameters (checkpoints save ``module``)."""
        if not self.compile:
            return module
        return torch.compile(module)

    def describe(self) -> dict[str, Any]:
        """What record.json says about how the run computed."""
        info: dict[str, Any] = {
            "device_type": self.device.type,
            "training_precision": "bf16 autocast" if self.autocast_dtype is not None else "fp32",
            "measure_precision": "fp32 (M5, M7: fp64)",
            "compile": self.compile,
            "torch_threads": torch.get_num_threads(),
            "attention": "torch scaled_dot_product_attention (fused kernels where the backend allows)",
            "deterministic_algorithms": (
                ("warn only" if torch.is_deterministic_algorithms_warn_only_enabled() else "strict")
                if torch.are_deterministic_algorithms_enabled() else "off"
            ),
        }
        if self.device.type == "cuda":
            index = self.device.index if self.device.index is not None else torch.cuda.current_device()
            info.update(
                gpu_name=torch.cuda.get_device_name(index),
                gpu_capability=".".join(map(str, torch.cuda.get_device_capability(index))),
                cuda_version=torch.version.cuda,
                tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
                sdpa_backends={
                    "flash": torch.backends.cuda.flash_sdp_enabled(),
                    "mem_efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
                    "math": torch.backends.cuda.math_sdp_enabled(),
                },
            )
        return info

