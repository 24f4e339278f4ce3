"""A sentence-transformers model's transformer run by ONNX Runtime with int8 weights.

Why: on the 2-core machines all-MiniLM-L6-v2 in torch fp32 encodes about 13 passages of
~1,000 characters a second on one thread; this backend does about 28, with vectors at a mean
cosine of 0.998 to the fp32 ones (eval/RESULTS.md has the evaluation numbers of both).

How: the model's first module (the Hugging Face transformer) is exported once from the local
weights with `torch.onnx` (no network) and the MatMul weights are quantised per output channel,
except the feed-forward outputs (`onnxruntime.quantization`, dynamic: activations are quantised
per batch at run time; see `_quantise`). The
file is cached in a folder named by a digest of the weights, the export settings and the
library versions, written to a temporary name and renamed, so two processes exporting at once
both end with a complete file. Tokenisation, pooling and normalisation stay the model's own
sentence-transformers modules, so the vectors differ from torch's only by the quantisation.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # torch is imported where it runs: importing it takes seconds
    import torch

# How the dense model runs (encoders.SentenceTransformerEncoder); "torch-bf16" is bf16_backend.py.
Backend = Literal["torch", "torch-bf16", "onnx", "onnx-int8"]

# Change when the export or quantisation settings change: older files are then not reused.
EXPORT_VERSION = 2
ONNX_OPSET = 17


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 over a torch module's parameter names, shapes and bytes: the model's identity."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def _export_key(transformer: torch.nn.Module, input_names: list[str], quantise: bool) -> str:
    parts = [
        weights_digest(transformer),
        ",".join(input_names),
        f"export={EXPORT_VERSION}",
        f"opset={ONNX_OPSET}",
        f"int8={quantise}",
        f"torch={version('torch')}",
        f"onnxruntime={version('onnxruntime')}",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _export(
    transformer: torch.nn.Module, sample: Mapping[str, torch.Tensor], input_names: list[str], target: Path
) -> None:
    """Write the transformer's last hidden state as an ONNX graph with dynamic batch and length."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.model(**dict(zip(input_names, inputs, strict=True))).last_hidden_state
            return hidden

    dynamic = {name: {0: "batch", 1: "tokens"} for name in [*input_names, "last_hidden_state"]}
    # The tracer warns about Python conditions it freezes; none depends on batch or length here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(transformer).eval(),
            tuple(sample[name] for name in input_names),
            str(target),
            input_names=input_names,
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=ONNX_OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, stable for BERT-like graphs
        )


def cached_onnx_file(
    transformer: torch.nn.Module, sample: Mapping[str, torch.Tensor], cache_dir: Path, *, quantise: bool = True
) -> Path:
    """The ONNX file of `transformer` (int8 unless `quantise` is false), exported on first use.

    `sample` is a tokenised batch: its keys are the graph's inputs, its tensors the example
    the exporter traces.
    """
    input_names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
    folder = Path(cache_dir) / f"onnx-{_export_key(transformer, input_names, quantise)}"
    final = folder / ("model-int8.onnx" if quantise else "model.onnx")
    if final.is_file():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as work:
        exported = Path(work) / "model.onnx"
        _export(transformer, sample, input_names, exported)
        result = exported
        if quantise:
            result = Path(work) / "model-int8.onnx"
            _quantise(exported, result)
        os.replace(result, final)
    return final


def _narrowing_matmuls(path: Path) -> list[str]:
    """MatMul nodes whose weight maps more inputs to fewer outputs: in a BERT-like model the
    feed-forward output (1,536 → 384 in MiniLM), whose inputs after GELU have the widest range."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and len(shape := shapes.get(node.input[1], ())) == 2
        and shape[0] > shape[1]
    ]


def _quantise(source: Path, target: Path) -> None:
    """int8 weights for the MatMuls that multiply by a weight matrix, one scale per output channel.

    Measured against float32 on ~1,000-character passages (cosine of the vectors, passages/s on
    one thread): every MatMul and the embedding lookups with one scale per matrix 0.944, 33/s;
    per channel 0.995, 35/s; per channel without the feed-forward outputs (kept float32) 0.998, 27/s.
    The last is used: its evaluation numbers are those of torch (eval/RESULTS.md).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        source, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
        nodes_to_exclude=_narrowing_matmuls(source), extra_options={"MatMulConstBOnly": True},
    )


class OnnxTransformer:
    """Runs an exported transformer: tokenised torch tensors in, token embeddings (torch) out."""

    # Texts per run, measured on one thread with ~1,000-character passages: 32.5 passages/s one
    # at a time, 27 in batches of 4 and 25 in batches of 8 (padding and the int8 kernels' shapes
    # cost more than batching saves).
    batch = 1

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self._session.get_inputs()]

    def token_embeddings(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        import torch

        feed = {name: features[name].numpy().astype(np.int64) for name in self.input_names}
        (hidden,) = self._session.run(["last_hidden_state"], feed)
        return torch.from_numpy(hidden)


__all__ = ["Backend", "OnnxTransformer", "cached_onnx_file", "weights_digest"]
