"""Answering a query: its candidates on the target side (ranking.py), fused into a first page
(fusion.py) and explained (explain.py).

A stored need or company asks again and again, so what its matches cost most to find is kept
between asks (materialised.py): its candidates in the main segment, its first page while the
side stays the same snapshot, and its explanations' quotes. A free text is searched afresh.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from app.matching.explain import Explanation, explain_match, explanation_texts
from app.matching.fusion import FusionWeights, fuse, language_conditions, top_order
from app.matching.materialised import MaterialisedKey, RankingKey, TextKey
from app.matching.ranking import (
    ChosenRows,
    QueryView,
    Ranking,
    ScoredCandidates,
    SegmentCandidates,
    best_passage_pairs,
    score_candidates,
    score_rows,
    segment_candidates,
)
from app.matching.segment import Segment
from app.matching.state import EngineState
from app.matching.store import FREE_TEXT_ID, Document, Side, SideSnapshot
from app.matching.text import detect_language, split_passages, tokenize


@dataclass
class Match:
    id: int
    score: float
    explanation: Explanation


class Searcher:
    def __init__(self, state: EngineState) -> None:
        self.state = state

    @property
    def weights(self) -> FusionWeights:
        return self.state.weights

    def snapshot(self, side: Side) -> SideSnapshot:
        return self.state.snapshots[side]

    def match(
        self,
        query: Document | str,
        *,
        target: Side,
        allowed_ids: Collection[int] | None = None,
        excluded_ids: Collection[int] = (),
        limit: int = 10,
    ) -> list[Match]:
        """The best `limit` documents of `target` for a stored document or a free text.

        `allowed_ids` (None: all) and `excluded_ids` are database ids of the target side.
        """
        snapshot = self.state.snapshots[target]
        if limit <= 0:
            return []
        excluded = set(excluded_ids)
        if isinstance(query, Document) and query.side == snapshot.side:
            excluded.add(query.id)
        pool = max(self.state.candidate_pool, limit)
        key = MaterialisedKey.of(query, snapshot.side, allowed_ids, pool)
        view = self.query_view(query)
        if view is None:
            return []
        kept = self.state.materialised
        ranking_key = RankingKey(snapshot.version, frozenset(excluded), limit)
        ranking = kept.ranking(key, ranking_key) if key is not None else None
        if ranking is None:
            scored = self._scores(view, snapshot, allowed_ids, excluded, pool, key)
            if not len(scored.scores):
                return []
            ranking = self.rank(view, scored, limit)
            if key is not None:
                kept.keep_ranking(key, ranking_key, ranking)
        return self._explained(view, snapshot, ranking, key)

    def rank(self, view: QueryView, scored: ScoredCandidates, limit: int) -> Ranking:
        """The first `limit` of the scored candidates, fused, with what explains each."""
        candidates = scored.scores
        fused = fuse(candidates, self.state.weights)
        order = top_order(fused.total, candidates.document_ids, limit)
        pairs = best_passage_pairs(view, scored.details, order, fused)
        return Ranking(
            ids=tuple(int(i) for i in candidates.document_ids[order]),
            scores=tuple(round(float(total), 6) for total in fused.total[order]),
            pairs=tuple(pairs),
            contributions=fused.contributions[order],
            visible=fused.visible[order],
            bonus=fused.bonus[order],
        )

    def _explained(
        self, view: QueryView, snapshot: SideSnapshot, ranking: Ranking, key: MaterialisedKey | None
    ) -> list[Match]:
        """The ranked matches with their explanations; the quotes come from what was kept for
        the query where they were made before."""
        kept = self.state.materialised
        query_stems: frozenset[str] | None = None  # read from the query's tokens once a quote is made
        # Python numbers once: reading numpy scalars one by one costs more than the conversion.
        contributions, visible, bonus = (ranking.contributions.tolist(), ranking.visible.tolist(),
                                         ranking.bonus.tolist())
        matches = []
        for position, (document_id, pair) in enumerate(zip(ranking.ids, ranking.pairs, strict=True)):
            stored = snapshot.documents[document_id]
            text_key = TextKey(document_id, stored.content_hash, pair.query, pair.match)
            texts = kept.text(key, text_key) if key is not None else None
            if texts is None:
                if query_stems is None:
                    query_stems = frozenset(t for tokens in view.tokens for t in tokens)
                texts = explanation_texts(
                    query_text=view.document.text,
                    query_language=view.language,
                    query_passage=view.passages[pair.query],
                    query_stems=query_stems,
                    match_text=stored.document.text,
                    match_language=stored.language,
                    match_passage=stored.passages[pair.match],
                    match_forms=self.state.word_forms[snapshot.side](stored.document.text, stored.language),
                    document_frequency=snapshot.document_frequency,
                )
                if key is not None:
                    kept.keep_text(key, text_key, texts)
            explanation = explain_match(
                texts=texts,
                query_language=view.language,
                match_language=stored.language,
                shared_nld_areas=sorted(set(view.document.nld_areas) & set(stored.document.nld_areas)),
                shared_sectors=sorted(set(view.document.sectors) & set(stored.document.sectors)),
                contributions=contributions[position],
                visible=visible[position],
                bonus=bonus[position],
            )
            matches.append(Match(document_id, ranking.scores[position], explanation))
        return matches

    def candidate_scores(
        self,
        view: QueryView,
        snapshot: SideSnapshot,
        allowed_ids: Collection[int] | None,
        excluded_id: int | None = None,
        pool: int | None = None,
    ) -> ScoredCandidates:
        """Raw per-signal evidence for the candidates of a query (the evaluation uses it directly)."""
        excluded = {excluded_id} if excluded_id is not None else set()
        return self._scores(view, snapshot, allowed_ids, excluded, pool or self.state.candidate_pool)

    def _scores(
        self,
        view: QueryView,
        snapshot: SideSnapshot,
        allowed_ids: Collection[int] | None,
        excluded: Collection[int],
        pool: int,
        key: MaterialisedKey | None = None,
    ) -> ScoredCandidates:
        if key is None:
            return self.with_conditions(view, score_candidates(view, snapshot, allowed_ids, excluded, pool))
        kept = self.state.materialised

        def main_candidates(
            view: QueryView, segment: Segment, allowed: np.ndarray, pool: int, share: float
        ) -> SegmentCandidates:
            if not segment.ann:  # scored whole (ranking.py): nothing a search found to keep
                return segment_candidates(view, segment, allowed, pool, share)
            found = kept.candidates(key, segment)
            if found is None:
                found = segment_candidates(view, segment, allowed, pool, share)
                kept.keep(key, found)
            return found

        return self.with_conditions(
            view, score_candidates(view, snapshot, allowed_ids, excluded, pool, main_candidates))

    def scores_of_rows(self, view: QueryView, chosen: Sequence[ChosenRows]) -> ScoredCandidates:
        """Per-signal evidence for documents already chosen (weekly.py)."""
        return self.with_conditions(view, score_rows(view, chosen))

    def with_conditions(self, view: QueryView, scored: ScoredCandidates) -> ScoredCandidates:
        """The candidates with what the fusion needs to know of the languages involved."""
        scored.scores.conditions = language_conditions(view.language, scored.details.languages)
        scored.scores.dense_cross_lingual = self.state.dense_cross_lingual
        return scored

    def query_view(self, query: Document | str) -> QueryView | None:
        """The query's passages, tokens and vectors; a stored document reuses its own."""
        # Free text is encoded as a query (e5 models read a prefix); a document as a passage,
        # the way the documents it is compared with were encoded.
        kind: Literal["query", "passage"] = "query" if isinstance(query, str) else "passage"
        if isinstance(query, str):
            query = Document("need", FREE_TEXT_ID, query)
        if not query.text.strip():
            return None
        # One snapshot for both the document and its vectors: a write may swap it meanwhile.
        side_snapshot = self.state.snapshots[query.side]
        existing = side_snapshot.documents.get(query.id)
        if existing is not None and existing.document.text == query.text:
            vectors = side_snapshot.vectors_of(query.id)
            return QueryView(query, existing.language, list(existing.passages),
                             [list(t) for t in side_snapshot.tokens_of(query.id)], vectors)
        language = detect_language(query.text)
        passages = split_passages(query.text)
        vectors = {s: e.encode([p.text for p in passages], kind=kind) for s, e in self.state.encoders.items()}
        return QueryView(query, language, passages, [tokenize(p.text, language) for p in passages], vectors)
