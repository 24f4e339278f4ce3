"""Passage vectors of changed documents: from the embedding cache, else encoded in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from app.matching.encoders import Encoder
from app.matching.store import EmbeddingCache, StoredDocument

ENCODE_BATCH = 64


@dataclass
class Encoded:
    vectors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # signal → passage hash → vector
    encoded: int = 0  # passages that had to be encoded (not in the cache)


def encode_missing(
    cache: EmbeddingCache, encoders: Mapping[str, Encoder], documents: Sequence[StoredDocument], side: str,
    progress: bool = False,
) -> Encoded:
    """Vectors of every passage of `documents` per signal: cached ones read, the rest encoded.

    The encoders run side by side, one thread each: both models release the GIL for most of
    their work, so on two cores a profile costs the slower model's time, not the sum.
    """
    result = Encoded()
    texts = {h: p.text for d in documents for h, p in zip(d.passage_hashes, d.passages, strict=True)}
    found = {signal: cache.get_many(enc.model_id, texts, enc.dim) for signal, enc in encoders.items()}

    def encode_signal(signal: str) -> dict[str, np.ndarray]:
        encoder = encoders[signal]
        missing = [h for h in texts if h not in found[signal]]
        # Similar lengths in one batch: the transformer pads every text to the batch's longest.
        missing.sort(key=lambda h: len(texts[h]))
        fresh: dict[str, np.ndarray] = {}
        batches = range(0, len(missing), ENCODE_BATCH)
        for start in tqdm(batches, desc=f"encoding {side} ({signal})", disable=not progress or not missing):
            chunk = missing[start : start + ENCODE_BATCH]
            fresh.update(zip(chunk, encoder.encode([texts[h] for h in chunk], kind="passage"), strict=True))
        return fresh

    if len(encoders) > 1 and any(len(found[s]) < len(texts) for s in encoders):
        with ThreadPoolExecutor(max_workers=len(encoders), thread_name_prefix="encode") as pool:
            encoded = dict(zip(encoders, pool.map(encode_signal, encoders), strict=True))
    else:
        encoded = {signal: encode_signal(signal) for signal in encoders}
    # The cache is written from the calling thread only (its connection is not shared).
    for signal, encoder in encoders.items():
        fresh = encoded[signal]
        if fresh:
            cache.put_many(encoder.model_id, fresh)
        result.encoded += len(fresh)
        result.vectors[signal] = {**found[signal], **fresh}
    return result
