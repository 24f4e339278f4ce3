"""A sentence-transformers model's transformer run by torch in bfloat16, for CPUs with AMX.

Why: Intel's AMX units (Sapphire Rapids and later) multiply bfloat16 matrices in hardware, and
torch reaches them through oneDNN without anything to export or install. On the 2-core Sapphire
Rapids machines all-MiniLM-L6-v2 encodes about 60 passages of ~800 characters a second on one
thread in batches of 8, against about 30 for ONNX Runtime with int8 weights, and its vectors
are at a mean cosine of 0.9999 to float32 (int8: 0.997).

Without AMX the same code runs, but slowly (measured with oneDNN capped by ONEDNN_MAX_CPU_ISA:
15 passages/s with AVX512-BF16 instructions, 6 with AVX512 alone, 2.6 with AVX2), so the "auto"
backend (encoders.resolve_backend) picks it only where `amx_available()` says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it runs: importing it takes seconds
    import torch

# Passages per forward pass, measured on one thread with ~800-character passages sorted by
# length: 48 passages/s one at a time, 56 in batches of 4, 59 of 8, 51 of 16.
BF16_BATCH = 8
# Part of the model id: change when the way the vectors are computed changes.
BF16_VERSION = 1


def amx_available() -> bool:
    """Whether oneDNN will run bfloat16 matrix products on AMX tiles in this process: the CPU
    has them, Linux lets the process use them, and ONEDNN_MAX_CPU_ISA does not rule them out."""
    import torch

    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if capped and capped not in ("ALL", "DEFAULT") and "AMX" not in capped:
        return False
    init_amx = getattr(torch.cpu, "_init_amx", None)  # asks Linux for the tile state; False if refused
    try:
        return bool(init_amx()) if init_amx is not None else False
    except RuntimeError:
        return False


class Bf16Transformer:
    """Runs the model's first module (the Hugging Face transformer) in bfloat16: tokenised
    features in, float32 token embeddings out, so pooling and normalisation stay float32."""

    batch = BF16_BATCH

    def __init__(self, module: torch.nn.Module) -> None:
        import torch

        self._module = module
        transformer = module.auto_model
        assert isinstance(transformer, torch.nn.Module)
        transformer.to(torch.bfloat16).eval()

    def token_embeddings(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch

        with torch.inference_mode():
            embeddings: torch.Tensor = self._module(dict(features))["token_embeddings"].float()
        return embeddings


__all__ = ["BF16_BATCH", "BF16_VERSION", "Bf16Transformer", "amx_available"]
