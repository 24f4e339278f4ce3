"""Passage vectors of changed documents: from the embedding cache, else encoded in batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    result = Encoded()
    texts = {h: p.text for d in documents for h, p in zip(d.passage_hashes, d.passages, strict=True)}
    for signal, encoder in encoders.items():
        found = cache.get_many(encoder.model_id, texts, encoder.dim)
        missing = [h for h in texts if h not in found]
        # Similar lengths in one batch: the transformer pads every text to the batch's longest.
        missing.sort(key=lambda h: len(texts[h]))
        fresh: dict[str, np.ndarray] = {}
        batches = range(0, len(missing), ENCODE_BATCH)
        for start in tqdm(batches, desc=f"encoding {side} ({signal})", disable=not progress or not missing):
            chunk = missing[start : start + ENCODE_BATCH]
            fresh.update(zip(chunk, encoder.encode([texts[h] for h in chunk], kind="passage"), strict=True))
        if fresh:
            cache.put_many(encoder.model_id, fresh)
        result.encoded += len(fresh)
        result.vectors[signal] = {**found, **fresh}
    return result
