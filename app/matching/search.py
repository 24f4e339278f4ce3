"""Answering a query: its candidates on the target side (ranking.py), each scored with the
pair model's probability of fit (pair_scoring.py), the best first, and explained (explain.py:
the fusion's per-signal shares and best passage pair say why).

A free text without a content word (only stop words, single characters or numbers) is
answered with nothing.

A stored need or company asks again and again, so what its matches cost most to find is kept
between asks (materialised.py): its candidates in the main segment, its first page while the
side stays the same snapshot, and its explanations' quotes. A free text is searched afresh.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from app.domain import Fit
from app.matching.explain import Explanation, explain_match, explanation_texts
from app.matching.fusion import FusedScores, FusionWeights, fuse, language_conditions, top_order
from app.matching.materialised import MaterialisedKey, RankingKey, TextKey
from app.matching.pair_features import PairEvidence
from app.matching.pair_scoring import KeptEvidence, evidence_against, has_content
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
from app.matching.text import Language, Passage, detect_language, split_passages, tokenize


@dataclass
class Match:
    id: int
    score: float  # the pair's calibrated probability of fit, 0–1
    explanation: Explanation
    fit: Fit = Fit.weak


# Free texts whose passages, tokens and vectors are kept: the same search comes again (its next
# page, a form sent twice, several advisers after one call), and encoding it costs more than
# ranking it.
FREE_TEXTS_KEPT = 256

EncodedText = tuple[Language, tuple[Passage, ...], tuple[tuple[str, ...], ...], dict[str, np.ndarray]]


class Searcher:
    def __init__(self, state: EngineState) -> None:
        self.state = state
        self._encoded_text = lru_cache(maxsize=FREE_TEXTS_KEPT)(self._encode_text)

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
        if limit <= 0 or (isinstance(query, str) and not has_content(query)):
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
        ranking_key = RankingKey(self._ranked_on(view, snapshot), frozenset(excluded), limit)
        ranking = kept.ranking(key, ranking_key) if key is not None else None
        if ranking is None:
            scored = self._scores(view, snapshot, allowed_ids, excluded, pool, key)
            if not len(scored.scores):
                return []
            unfiltered = allowed_ids is None and not excluded - {view.document.id} and pool == self.state.candidate_pool
            ranking = self.rank(view, scored, limit, snapshot, unfiltered, key)
            if key is not None:
                kept.keep_ranking(key, ranking_key, ranking)
        return self._explained(view, snapshot, ranking, key)

    def _ranked_on(self, view: QueryView, target: SideSnapshot) -> int:
        """What a kept ranking depends on: the target side's snapshot, and for a company's
        needs the companies' main segment too (the needs' contexts follow it)."""
        if view.document.side == "company" and target.side == "need":
            return target.version << 32 | id(self.state.snapshots["company"].main) & 0xFFFFFFFF
        return target.version

    def rank(
        self, view: QueryView, scored: ScoredCandidates, limit: int, target: SideSnapshot, unfiltered: bool = False,
        key: MaterialisedKey | None = None,
    ) -> Ranking:
        """The first `limit` of the scored candidates by probability of fit, with what explains
        each. `unfiltered`: the candidates are the query's over the whole side (its context);
        `key`: where what the query keeps between asks is kept."""
        candidates = scored.scores
        fused = fuse(candidates, self.state.weights)
        shortlist = shortlist_of(fused, limit) if _company_asks_needs(view, target) else None
        probabilities = self.probabilities(view, scored, target, unfiltered, shortlist, key)
        order = top_order(probabilities, candidates.document_ids, limit)
        pairs = best_passage_pairs(view, scored.details, order, fused)
        return Ranking(
            ids=tuple(int(i) for i in candidates.document_ids[order]),
            scores=tuple(round(float(p), 6) for p in probabilities[order]),
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
        for match, fit in zip(matches, self.state.pairs.model.fits(np.array(ranking.scores)), strict=True):
            match.fit = fit
        return matches

    # ---------- the pair model ----------
    def probabilities(
        self, view: QueryView, scored: ScoredCandidates, target: SideSnapshot, unfiltered: bool = False,
        shortlist: np.ndarray | None = None, key: MaterialisedKey | None = None,
    ) -> np.ndarray:
        """Each candidate's probability of fit with the query, from the pair's own evidence in
        the canonical direction (pair_scoring.py). For a company's needs only the `shortlist`
        positions are scored (the rest get -1, below any probability): each need's evidence
        against the company costs a BM25 pass over the need's words."""
        pairs = self.state.pairs
        companies = self.state.snapshots["company"]
        ids = scored.scores.document_ids
        own = self.state.snapshots[view.document.side].documents.get(view.document.id)
        stored = view.document.id != FREE_TEXT_ID and own is not None and own.document.text == view.document.text
        if _company_asks_needs(view, target):
            chosen = np.arange(len(ids)) if shortlist is None else shortlist
            probabilities = np.full(len(ids), -1.0)
            probabilities[chosen] = self.needs_probabilities(view, target, ids[chosen])
            return probabilities
        if stored and view.document.side == "need" and target.side == "company":
            need_id = view.document.id
            needs = self.state.snapshots["need"]
            content = needs.documents[need_id].content_hash
            need = pairs.need_query(needs, need_id, content, companies)
            evidence = self._need_evidence(view, scored, need.mass, companies.main, key)
            return pairs.probabilities(evidence, self.need_context(needs, need_id, content))
        evidence = evidence_against(view, scored.details)
        if unfiltered and not len(target.delta.document_ids) and bool(target.main_live.all()):
            return pairs.probabilities(evidence, pairs.context_score(evidence))  # the page is the main segment's
        whole = self._scores(view, self._main_only(target), None, set(), self.state.candidate_pool)
        return pairs.probabilities(evidence, pairs.context_score(evidence_against(view, whole.details)))

    def _need_evidence(
        self, view: QueryView, scored: ScoredCandidates, mass: np.ndarray, main: Segment, key: MaterialisedKey | None
    ) -> PairEvidence:
        """A stored need's evidence against its candidates, that against the companies' main
        segment kept with its other kept matches (`key`) between asks."""
        if key is None:
            return evidence_against(view, scored.details, mass)
        materialised = self.state.materialised
        kept = materialised.evidence(key, main) or KeptEvidence(main)
        evidence = evidence_against(view, scored.details, mass, kept)
        materialised.keep_evidence(key, kept)  # counted again: it may hold more now
        return evidence

    def needs_probabilities(self, view: QueryView, needs: SideSnapshot, need_ids: np.ndarray) -> np.ndarray:
        """A stored company's probability of fit with each of these needs. It reads each need's
        evidence against the company (pair_scoring.py), not the company's scores as a query, so
        a caller that has only the needs' ids needs no search or scoring of its own."""
        pairs = self.state.pairs
        evidence = pairs.company_evidence(needs, self.state.snapshots["company"], view, need_ids.tolist())
        return pairs.probabilities(evidence, self.need_contexts(needs, need_ids))

    def _main_only(self, side: SideSnapshot) -> SideSnapshot:
        """Every document of the side's main segment, as a snapshot: where contexts are found
        (a function of the segment alone, the same in every process that holds it)."""
        main = side.main
        return SideSnapshot(side.side, main, np.ones(len(main.document_ids), bool), self.state.empty_segment(),
                            side.documents)

    def need_contexts(self, needs: SideSnapshot, need_ids: np.ndarray) -> np.ndarray:
        """`need_context` of each need, read from the needs' side as a whole once known."""
        side = self.state.pairs.need_side(needs, self.state.snapshots["company"])
        positions = np.fromiter((side.position_of[i] for i in need_ids.tolist()), dtype=np.int64,
                                count=len(need_ids))
        contexts = side.contexts[positions]
        for where in np.flatnonzero(np.isnan(contexts)).tolist():
            need_id = int(need_ids[where])
            contexts[where] = self.need_context(needs, need_id, needs.documents[need_id].content_hash)
            side.contexts[positions[where]] = contexts[where]
        return contexts

    def need_context(self, needs: SideSnapshot, need_id: int, content: str) -> float:
        """A stored need's context score: over every company of the companies' main segment
        (recent writes count from the next merge on), found without filters and without what
        was kept, so it is a function of the need and that segment alone; kept until it changes."""
        pairs = self.state.pairs
        companies = self.state.snapshots["company"]
        known = pairs.kept_context((need_id, content), companies)
        if known is not None:
            return known
        view = self.query_view(needs.documents[need_id].document)
        if view is None:
            return pairs.keep_context((need_id, content), companies, 0.0)
        whole = self._scores(view, self._main_only(companies), None, set(), self.state.candidate_pool)
        need = pairs.need_query(needs, need_id, content, companies)
        return pairs.keep_context((need_id, content), companies,
                                  pairs.context_score(evidence_against(view, whole.details, need.mass)))

    def kept_need_context(self, companies: SideSnapshot, need_id: int, content: str) -> float | None:
        """A need's context if it is kept for this companies' snapshot's main segment."""
        return self.state.pairs.kept_context((need_id, content), companies)

    def keep_need_context(self, companies: SideSnapshot, need_id: int, content: str, context: float) -> None:
        """Keep a need's context found over this companies' snapshot in another process (a forked
        worker of the weekly list computes what `need_context` would)."""
        self.state.pairs.keep_context((need_id, content), companies, context)

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
        if isinstance(query, str):
            if not query.strip():
                return None
            text_language, text_passages, text_tokens, text_vectors = self._encoded_text(query)
            return QueryView(Document("need", FREE_TEXT_ID, query), text_language, list(text_passages),
                             [list(t) for t in text_tokens], text_vectors)
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
        vectors = {s: e.encode([p.text for p in passages], kind="passage") for s, e in self.state.encoders.items()}
        return QueryView(query, language, passages, [tokenize(p.text, language) for p in passages], vectors)

    def _encode_text(self, text: str) -> EncodedText:
        """A free text's language, passages, tokens and vectors (kept: `_encoded_text`)."""
        language = detect_language(text)
        passages = tuple(split_passages(text))
        vectors = {s: e.encode([p.text for p in passages], kind="query") for s, e in self.state.encoders.items()}
        for array in vectors.values():
            array.setflags(write=False)  # shared by every ask of the text
        return language, passages, tuple(tuple(tokenize(p.text, language)) for p in passages), vectors


# A company's needs: how many of its best candidates by the fused signals get the pair model's
# probability (at least two pages). The probability follows the fused signals closely, and a
# need beyond this many is not one the company's first pages show.
COMPANY_SHORTLIST = 200


def _company_asks_needs(view: QueryView, target: SideSnapshot) -> bool:
    """A stored company's needs: the one direction scored from each need's side (pair_scoring)."""
    return view.document.side == "company" and target.side == "need" and view.document.id != FREE_TEXT_ID


def shortlist_of(fused: FusedScores, limit: int) -> np.ndarray | None:
    """The positions of the best candidates by the fused score, or None when all are few enough."""
    size = max(COMPANY_SHORTLIST, 2 * limit)
    if len(fused.total) <= size:
        return None
    return np.argpartition(-fused.total, size - 1)[:size]
