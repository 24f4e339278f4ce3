"""Passage vectors of changed documents: from the embedding cache, else encoded in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np
from tqdm import tqdm

from app.matching.encoders import Encoder
from app.matching.store import EmbeddingCache, StoredDocument

# Passages per batch: small enough that two threads share a bulk import evenly, large enough
# that a batch is worth a thread hand-off.
ENCODE_BATCH = 16
# One per core of the machines this runs on; each encoder itself runs on one thread.
ENCODE_THREADS = 2


@dataclass
class Encoded:
    vectors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # signal → passage hash → vector
    encoded: int = 0  # passages that had to be encoded (not in the cache)


def encode_missing(
    cache: EmbeddingCache, encoders: Mapping[str, Encoder], documents: Sequence[StoredDocument], side: str,
    progress: bool = False,
) -> Encoded:
    """Vectors of every passage of `documents` per signal: cached ones read, the rest encoded.

    The missing passages are cut into batches, the signals' batches taken in turn by two
    threads: both models release the GIL for most of their work, so on two cores the encoders
    share the machine instead of waiting for each other (a bulk import, and one registration's
    two models alike).
    """
    texts = {h: p.text for d in documents for h, p in zip(d.passage_hashes, d.passages, strict=True)}
    found = {signal: cache.get_many(enc.model_id, texts, enc.dim) for signal, enc in encoders.items()}
    per_signal = []
    for signal in encoders:
        missing = [h for h in texts if h not in found[signal]]
        # Similar lengths in one batch: the transformer pads every text to the batch's longest.
        missing.sort(key=lambda h: len(texts[h]))
        starts = range(0, len(missing), ENCODE_BATCH)
        per_signal.append([(signal, missing[start : start + ENCODE_BATCH]) for start in starts])
    batches = [batch for turn in zip_longest(*per_signal) for batch in turn if batch is not None]

    def encode_batch(batch: tuple[str, list[str]]) -> tuple[str, list[str], np.ndarray]:
        signal, hashes = batch
        return signal, hashes, encoders[signal].encode([texts[h] for h in hashes], kind="passage")

    fresh: dict[str, dict[str, np.ndarray]] = {signal: {} for signal in encoders}
    threads = min(ENCODE_THREADS, len(batches)) or 1
    with (
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="encode") as pool,
        tqdm(total=sum(len(h) for _, h in batches), desc=f"encoding {side}", unit="passage",
             disable=not progress or not batches) as bar,
    ):
        for signal, hashes, vectors in pool.map(encode_batch, batches):
            fresh[signal].update(zip(hashes, vectors, strict=True))
            bar.update(len(hashes))
    # The cache is written from the calling thread only.
    result = Encoded()
    for signal, encoder in encoders.items():
        if fresh[signal]:
            cache.put_many(encoder.model_id, fresh[signal])
        result.encoded += len(fresh[signal])
        result.vectors[signal] = {**found[signal], **fresh[signal]}
    return result
