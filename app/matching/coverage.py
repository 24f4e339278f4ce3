"""How well each of a few companies covers each part (passage) of a stored need: the evidence a
consortium is put together from.

The need's passages and vectors are the engine's own (``MatchEngine.query_view``); each company is
scored against each part with the engine's three signals (ranking.passage_scores), its best passage
per part, and the signals fused per cell as the ranking fuses them (visibility per language pair,
the tuned weights, shared words across languages counted only where they lift a cell). Unlike a
ranking, the cells are scaled over the whole matrix (from its median for the cosine signals), so a
part no company speaks to scores low for every company instead of crowning the least bad one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.matching.engine import MatchEngine
from app.matching.fusion import (
    BM25,
    SAME_LANGUAGE,
    SIGNALS,
    CandidateScores,
    language_conditions,
    mean_shares,
    normalise_per_query,
    row_sums,
    visibility,
)
from app.matching.ranking import passage_scores
from app.matching.store import Document
from app.matching.text import Passage

MIN_FRESH_CHARS = 120


@dataclass(frozen=True)
class Part:
    """One passage of the need, without the overlap it repeats from the passage before it."""

    index: int
    text: str


@dataclass(frozen=True)
class PassageCoverage:
    parts: tuple[Part, ...]
    company_ids: tuple[int, ...]
    scores: np.ndarray  # (companies, parts): 0-1, how well each company covers each part
    quotes: tuple[tuple[str, ...], ...]  # per company per part: its passage that covers the part best


def parts_of(engine: MatchEngine, need: Document) -> tuple[Part, ...]:
    """The need's parts as the engine split it (a stored need's own passages)."""
    view = engine.query_view(need)
    return _parts(view.passages) if view is not None else ()


def passage_coverage(engine: MatchEngine, need: Document, company_ids: Sequence[int]) -> PassageCoverage | None:
    """Every (company, part) cell's score; None when the need has no text. Companies missing from
    the index are left out."""
    view = engine.query_view(need)
    if view is None:
        return None
    parts = _parts(view.passages)
    snapshot = engine.snapshot("company")
    wanted = np.asarray(list(company_ids), dtype=np.int64)
    ids: list[int] = []
    raw_blocks: list[np.ndarray] = []  # per company: (signals, its passages, parts)
    languages: list[str] = []
    passage_texts: list[list[str]] = []
    for segment, live in snapshot.segments():
        rows = np.flatnonzero(live & np.isin(segment.document_ids, wanted))
        if not len(rows):
            continue
        positions, owner = segment.passage_positions(rows)
        raw = passage_scores(view, segment, positions)
        stacked = np.stack([raw[s] if s in raw
                            else np.full((len(positions), len(view.passages)), np.nan, np.float32)
                            for s in SIGNALS])
        for index, row in enumerate(rows):
            document_id = int(segment.document_ids[row])
            ids.append(document_id)
            raw_blocks.append(stacked[:, owner == index, :])
            languages.append(str(segment.document_languages[row]))
            stored = snapshot.documents[document_id]
            passage_texts.append([passage.text for passage in stored.passages])
    if not ids:
        return PassageCoverage(parts, (), np.zeros((0, len(parts)), np.float32), ())
    # Per company and part, each signal's best passage score: cells of (companies × parts) rows.
    best = np.stack([block.max(axis=1).T for block in raw_blocks])  # (companies, parts, signals)
    cells = best.reshape(-1, len(SIGNALS))
    conditions = np.repeat(language_conditions(view.language, np.asarray(languages)), len(parts))
    scores = _fused(engine, cells, conditions).reshape(len(ids), len(parts))
    quotes = tuple(_best_quotes(engine, block, texts, conditions_row)
                   for block, texts, conditions_row in zip(raw_blocks, passage_texts,
                                                           conditions.reshape(len(ids), len(parts))[:, 0],
                                                           strict=True))
    return PassageCoverage(parts, tuple(ids), scores, quotes)


def _parts(passages: Sequence[Passage]) -> tuple[Part, ...]:
    parts = []
    previous_end = -1
    for index, passage in enumerate(passages):
        fresh = passage.source[max(passage.start, previous_end) : passage.end].strip()
        # A part that is mostly the overlap is quoted whole, so the quote still says something.
        text = fresh if len(fresh) >= MIN_FRESH_CHARS else passage.text.strip()
        parts.append(Part(index, text))
        previous_end = passage.end
    return tuple(parts)


def _bounds(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BM25 from zero, the cosine signals from their median cell, each up to its best cell."""
    low = np.zeros(len(SIGNALS), np.float32)
    spread = np.zeros(len(SIGNALS), np.float32)
    for column in range(len(SIGNALS)):
        values = cells[:, column][np.isfinite(cells[:, column])]
        if not len(values):
            continue
        if column != BM25:
            low[column] = float(np.median(values))
        spread[column] = float(values.max()) - low[column]
    return low, spread


def _fused(engine: MatchEngine, cells: np.ndarray, conditions: np.ndarray) -> np.ndarray:
    candidates = CandidateScores(
        document_ids=np.arange(len(cells), dtype=np.int64), best=cells, second=np.zeros_like(cells),
        conditions=conditions.astype(np.int8), shared_nld_areas=np.zeros(len(cells), np.int64),
        shared_sectors=np.zeros(len(cells), np.int64),
        dense_cross_lingual=False,  # the bundled dense model reads English only
    )
    normalised = normalise_per_query(cells, _bounds(cells))
    visible = visibility(candidates)
    with_words = row_sums(mean_shares(engine.weights, candidates.conditions, visible) * normalised)
    without = visible.copy()
    without[:, BM25] = False
    without_words = row_sums(mean_shares(engine.weights, candidates.conditions, without) * normalised)
    # Across languages shared words only lift a cell (as in fusion.fuse).
    one_sided = visible[:, BM25] & (candidates.conditions != SAME_LANGUAGE)
    return np.where(one_sided, np.maximum(with_words, without_words), with_words).astype(np.float32)


def _best_quotes(engine: MatchEngine, block: np.ndarray, texts: list[str], condition: int) -> tuple[str, ...]:
    """Per part, the company's passage with the best fused score for it (its profile is mostly one)."""
    if len(texts) == 1:
        return tuple(texts[0] for _ in range(block.shape[2]))
    signals, passages, parts = block.shape
    cells = block.transpose(2, 1, 0).reshape(-1, signals)  # (parts × passages, signals)
    scores = _fused(engine, cells, np.full(len(cells), condition)).reshape(parts, passages)
    return tuple(texts[int(np.argmax(row))] for row in scores)
