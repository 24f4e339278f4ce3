"""The pair model (pair_model.py) in the serving engine: one calibrated probability of fit per
company × need pair, whichever side asks.

A pair's evidence is computed in the canonical direction (pair_features.py): the need's text
is the query and the company the document, with the company side's BM25 statistics, also when
the company asks for its needs. A free text is the query against the searched side. Cosines
are symmetric, so only the lexical part depends on the direction.

The probability also reads the need's *context score*: the CONTEXT_RANK-th best pair score of
the need over the companies of the side's main segment, unfiltered (for a free text: of the text
over the side it searches), so it is the same in every process holding that segment. A need's
context is kept per need version until the company side's next merge (a new main segment):
computed once, then shared by every list that shows one of the need's pairs, so a company page
does not search every need's companies again after each write.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from app.matching.lexical import CorpusStatistics, LexicalIndex, ranges_of
from app.matching.pair_features import PairEvidence, pair_conditions, pair_evidence, query_mass
from app.matching.pair_model import CONTEXT_RANK, DEFAULT_MODEL_PATH, PairModel, kth_best
from app.matching.ranking import CandidateDetails, QueryView, passage_scores
from app.matching.segment import Segment
from app.matching.store import SideSnapshot
from app.matching.text import tokenize

# A side of fewer than CONTEXT_RANK documents has no CONTEXT_RANK-th best pair: the missing
# neighbours count with the median context score of the development set's queries under the
# packaged model (3.0; CORDIS's, of long near-identical topics, is 7.3), so that in a small
# index a clear match is not held down by being the best of the few there are.
SMALL_SIDE_CONTEXT = 3.0

# Where `koppelkans tune` writes a refitted model inside the engine's data folder; the engine
# reads it at start instead of the packaged one when it is there.
TUNED_MODEL_FILE = "pair_model.json"


def model_path(data_dir: Path) -> Path:
    """The pair model a server with this data folder loads: a tuned one, else the packaged one."""
    tuned = Path(data_dir) / TUNED_MODEL_FILE
    return tuned if tuned.exists() else DEFAULT_MODEL_PATH


def has_content(text: str) -> bool:
    """Whether a free text has a word worth searching for: not only stop words of either
    language, single characters and numbers. Such a query is answered with nothing."""
    return bool(tokenize(text, "unknown"))


@dataclass(frozen=True)
class NeedQuery:
    """A stored need as the canonical query of its pairs: its tokens, vectors and IDF mass."""

    tokens: Sequence[Sequence[str]]
    vectors: dict[str, np.ndarray]
    language: str
    mass: np.ndarray


@dataclass(frozen=True)
class NeedSide:
    """Every stored need as the canonical query against the companies' main segment, their
    passages side by side: a company's evidence against any of them is then one product per
    signal and one sparse product for BM25, instead of a pass over each need's words."""

    position_of: dict[int, int]  # need id → its position below
    starts: np.ndarray  # (needs + 1,) each need's first passage
    vectors: dict[str, np.ndarray]  # signal → (passages, dimension)
    languages: np.ndarray  # (needs,) each need's language
    inverse_mass: np.ndarray  # (passages,) 1 / the passage's IDF mass, 0 for none
    stem_counts: sparse.csc_matrix  # (passages, main vocabulary) how often a passage has a stem
    contexts: np.ndarray  # (needs,) each need's context score; NaN until known

    def passages(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The passage rows of the needs at `positions` (concatenated), and where each need's
        rows start among them."""
        rows, _ = ranges_of(self.starts, positions)
        lengths = self.starts[positions + 1] - self.starts[positions]
        return rows, np.cumsum(lengths) - lengths


def evidence_in(view: QueryView, segment: Segment, rows: np.ndarray, mass: np.ndarray | None = None) -> PairEvidence:
    """The query's evidence against `rows` of one segment of the document side (the passage
    scores the ranking computed are reused). `mass`: the query's IDF mass, when known."""
    positions = segment.passage_positions(rows).positions
    raw = passage_scores(view, segment, positions)
    if mass is None:
        mass = query_mass(segment.lexical.statistics, view.tokens)
    conditions = pair_conditions(view.language, segment.document_languages[rows])
    return pair_evidence(raw, segment.passage_count[rows], mass, conditions)


class KeptEvidence:
    """A stored need's evidence against companies of one main segment, kept between its asks
    (materialised.py keeps it with the need's candidates).

    A pair's evidence is a function of the need's version and the company's row in that
    segment alone, and a need's kept candidates there stay the same until the next merge; a
    write makes the need's first page be ranked again, and without this its evidence against
    all of them (hundreds of companies: their passage scores, BM25 included) would be computed
    again too: at 100,000 companies over half of such a page's 3 ms. Requests for one need
    share it from several threads: what it holds is replaced in one assignment.
    """

    # The evidence the pair model reads (not the rank terms, which it does not).
    COLUMNS = ("dense", "multilingual", "bm25", "bm25_fraction", "conditions")

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        # Rows ascending, and each column of evidence in their order.
        self._kept: tuple[np.ndarray, dict[str, np.ndarray]] = (np.zeros(0, np.int32), {})

    def get(self, segment: Segment, rows: np.ndarray) -> PairEvidence | None:
        """The evidence against `rows` of `segment`, if every one of them is kept."""
        kept_rows, columns = self._kept
        if segment is not self.segment or not len(kept_rows):
            return None
        at = np.minimum(np.searchsorted(kept_rows, rows), len(kept_rows) - 1)
        if not np.array_equal(kept_rows[at], rows):
            return None
        return PairEvidence(**{name: column[at] for name, column in columns.items()})

    def keep(self, segment: Segment, rows: np.ndarray, evidence: PairEvidence) -> None:
        if segment is self.segment:
            order = np.argsort(rows, kind="stable")
            self._kept = (rows[order].astype(np.int32), {name: getattr(evidence, name)[order] for name in self.COLUMNS})

    @property
    def nbytes(self) -> int:
        kept_rows, columns = self._kept
        return int(kept_rows.nbytes + sum(column.nbytes for column in columns.values()))


def evidence_against(
    view: QueryView, details: CandidateDetails, mass: np.ndarray | None = None, kept: KeptEvidence | None = None
) -> PairEvidence:
    """The canonical query's evidence against each candidate, in the candidates' order; what
    `kept` holds is read from it, and what it may hold is added to it."""
    if not len(details.rows):
        return _empty_evidence()
    parts: list[PairEvidence] = []
    positions: list[np.ndarray] = []
    for number, segment in enumerate(details.segments):
        where = np.flatnonzero(details.segment_of == number)
        if len(where):
            rows = details.rows[where]
            part = kept.get(segment, rows) if kept is not None else None
            if part is None:
                part = evidence_in(view, segment, rows, mass)
                if kept is not None:
                    kept.keep(segment, rows, part)
            parts.append(part)
            positions.append(where)
    evidence = PairEvidence.concatenate(parts)
    order = np.empty(len(details.rows), dtype=np.int64)
    order[np.concatenate(positions)] = np.arange(len(details.rows))
    return evidence.take(order)


def _empty_evidence() -> PairEvidence:
    nothing = np.zeros(0, np.float32)
    return PairEvidence(nothing, nothing, nothing, nothing, np.zeros(0, np.int8))


class PairScorer:
    """The model and what is kept per need between asks (its canonical query and context)."""

    def __init__(self, model: PairModel) -> None:
        self.model = model
        self._lock = threading.Lock()
        # (need id, content hash) → (the company main segment it was found with, context score)
        self._contexts: dict[tuple[int, str], tuple[weakref.ref[Segment], float]] = {}
        # (need id, content hash, company statistics id) → the need as a canonical query
        self._needs: dict[tuple[int, str, int], NeedQuery] = {}
        # Every need at once, for the needs' snapshot and the companies' main segment it was made for.
        self._need_side: tuple[int, weakref.ref[Segment], NeedSide] | None = None

    def probabilities(self, evidence: PairEvidence, contexts: np.ndarray | float) -> np.ndarray:
        return self.model.probabilities(evidence, contexts)

    def context_score(self, evidence: PairEvidence) -> float:
        """The context of a query from its evidence against the side's unfiltered candidates."""
        scores = self.model.scores(evidence)
        if len(scores) < CONTEXT_RANK:
            scores = np.concatenate([scores, np.full(CONTEXT_RANK - len(scores), SMALL_SIDE_CONTEXT, np.float32)])
        return kth_best(scores, CONTEXT_RANK)

    def kept_context(self, need_key: tuple[int, str], companies: SideSnapshot) -> float | None:
        with self._lock:
            found = self._contexts.get(need_key)
        return found[1] if found is not None and found[0]() is companies.main else None

    def keep_context(self, need_key: tuple[int, str], companies: SideSnapshot, context: float) -> float:
        """Keep a need's context for the companies' main segment; the first one kept stays, so
        every list shows the same number."""
        with self._lock:
            found = self._contexts.get(need_key)
            if found is not None and found[0]() is companies.main:
                return found[1]
            if len(self._contexts) > 50_000:
                self._contexts.clear()
            self._contexts[need_key] = (weakref.ref(companies.main), context)
            return context

    def need_query(self, needs: SideSnapshot, need_id: int, content_hash: str, companies: SideSnapshot) -> NeedQuery:
        """A stored need's tokens, vectors and IDF mass under the company side's statistics."""
        statistics = side_statistics(companies)
        key = (need_id, content_hash, id(statistics))
        with self._lock:
            found = self._needs.get(key)
        if found is not None:
            return found
        stored = needs.documents[need_id]
        tokens = needs.tokens_of(need_id)
        query = NeedQuery(tokens, needs.vectors_of(need_id), stored.language, query_mass(statistics, tokens))
        with self._lock:
            if len(self._needs) > 20_000:
                self._needs.clear()
            self._needs[key] = query
        return query

    def need_side(self, needs: SideSnapshot, companies: SideSnapshot) -> NeedSide:
        """Every need of `needs` as a canonical query against the companies' main segment,
        made once per snapshot of the needs and main segment of the companies."""
        main = companies.main
        with self._lock:
            kept = self._need_side
        if kept is not None and kept[0] == needs.version and kept[1]() is main:
            return kept[2]
        ids = list(needs.documents)
        queries = [self.need_query(needs, i, needs.documents[i].content_hash, companies) for i in ids]
        sizes = np.array([len(query.mass) for query in queries], dtype=np.int64)
        starts = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        vocabulary = main.lexical.vocabulary
        stems, rows = [], []
        for row, tokens in enumerate(tokens for query in queries for tokens in query.tokens):
            known = [vocabulary[t] for t in tokens if t in vocabulary]
            stems.extend(known)
            rows.extend([row] * len(known))
        counts = sparse.csc_matrix((np.ones(len(stems)), (rows, stems)), shape=(int(starts[-1]), len(vocabulary)))
        mass = np.concatenate([query.mass for query in queries]) if queries else np.zeros(0, np.float32)
        signals = {signal for query in queries for signal in query.vectors}
        side = NeedSide(
            position_of={need_id: position for position, need_id in enumerate(ids)},
            starts=starts,
            vectors={signal: np.vstack([query.vectors[signal] for query in queries]) for signal in signals},
            languages=np.array([query.language for query in queries]),
            inverse_mass=inverse_of(mass),
            stem_counts=counts,
            contexts=np.full(len(ids), np.nan),
        )
        with self._lock:
            self._need_side = (needs.version, weakref.ref(main), side)
        return side

    def company_evidence(
        self, needs: SideSnapshot, companies: SideSnapshot, company: QueryView, need_ids: Sequence[int],
    ) -> PairEvidence:
        """Each need's evidence against one company, the need as the query: BM25 from the
        company's postings where it is indexed, else from its passages under the company side's
        statistics (the same numbers)."""
        segment = companies.delta if company.document.id in companies.delta.row_of else companies.main
        row = segment.row_of.get(company.document.id)
        known = companies.documents.get(company.document.id)
        indexed = row is not None and known is not None and known.document.text == company.document.text
        if indexed and row is not None and segment is companies.main and need_ids:
            return self._main_company_evidence(needs, companies, company, row, need_ids)
        if indexed:
            rows = np.array([row], dtype=np.int64)
            positions = segment.passage_positions(rows).positions
            lexical = segment.lexical
            vectors = {signal: side_vectors[positions] for signal, side_vectors in segment.vectors.items()}
        else:
            lexical = LexicalIndex(company.tokens, side_statistics(companies))
            positions = np.arange(len(company.tokens))
            vectors = company.vectors
        queries = [self.need_query(needs, need_id, needs.documents[need_id].content_hash, companies)
                   for need_id in need_ids]
        if not queries:
            return _empty_evidence()
        # Every need's passages side by side: one BM25 call and one product per signal.
        sizes = np.array([len(query.mass) for query in queries])
        token_lists = [tokens for query in queries for tokens in query.tokens]
        return _company_against_needs(
            cosines={signal: company_vectors @ np.vstack([q.vectors[signal] for q in queries]).T
                     for signal, company_vectors in vectors.items()},
            bm25=lexical.scores_of(positions, token_lists),
            inverse_mass=inverse_of(np.concatenate([query.mass for query in queries])),
            starts=np.cumsum(sizes) - sizes,
            # The condition is symmetric in the two languages.
            conditions=pair_conditions(company.language, np.array([q.language for q in queries])),
        )

    def _main_company_evidence(
        self, needs: SideSnapshot, companies: SideSnapshot, company: QueryView, row: int, need_ids: Sequence[int]
    ) -> PairEvidence:
        """`company_evidence` for a company of the main segment, from `need_side`."""
        side = self.need_side(needs, companies)
        main = companies.main
        positions = np.fromiter((side.position_of[i] for i in need_ids), dtype=np.int64, count=len(need_ids))
        rows, offsets = side.passages(positions)
        company_passages = main.passage_positions(np.array([row], dtype=np.int64)).positions
        lexical = main.lexical
        # The company's BM25 weights, one column per passage, over the stems it has.
        entries, column = ranges_of(lexical.passage_start, company_passages)
        stems, local = np.unique(lexical.term_of[entries], return_inverse=True)
        weights = np.zeros((len(stems), len(company_passages)))
        weights[local, column] = lexical.weight_by_passage[entries]
        bm25 = (side.stem_counts[:, stems] @ weights)[rows].T.astype(np.float32)

        def products(company_vectors: np.ndarray, need_vectors: np.ndarray) -> np.ndarray:
            # Copying a few needs' vectors costs less than a product with all; most of them, more.
            if 4 * len(rows) < len(need_vectors):
                product: np.ndarray = company_vectors @ need_vectors[rows].T
                return product
            whole: np.ndarray = company_vectors @ need_vectors.T
            return whole[:, rows]

        return _company_against_needs(
            cosines={signal: products(main.vectors[signal][company_passages], vectors)
                     for signal, vectors in side.vectors.items() if signal in main.vectors},
            bm25=bm25, inverse_mass=side.inverse_mass[rows], starts=offsets,
            conditions=pair_conditions(company.language, side.languages[positions]),
        )


def _company_against_needs(
    cosines: Mapping[str, np.ndarray], bm25: np.ndarray, inverse_mass: np.ndarray, starts: np.ndarray,
    conditions: np.ndarray,
) -> PairEvidence:
    """A company's evidence against needs from the scores of its passages (rows) against the
    needs' passages side by side (columns; `starts`: each need's first): per need, the best over
    every pair of their passages."""

    def best_per_need(scores: np.ndarray) -> np.ndarray:
        if not scores.size:
            return np.full(len(starts), np.nan, np.float32)
        best: np.ndarray = np.maximum.reduceat(scores.max(axis=0), starts)
        return best

    best_cosines = {signal: best_per_need(scores) for signal, scores in cosines.items()}
    missing = np.full(len(starts), np.nan, np.float32)
    return PairEvidence(
        dense=best_cosines.get("dense", missing), multilingual=best_cosines.get("multilingual", missing),
        bm25=np.nan_to_num(best_per_need(bm25), nan=0.0),
        bm25_fraction=np.nan_to_num(best_per_need(bm25 * inverse_mass[None, :]), nan=0.0),
        conditions=conditions,
    )


def inverse_of(mass: np.ndarray) -> np.ndarray:
    """1 / each passage's IDF mass, 0 for a passage without any."""
    inverse: np.ndarray = np.divide(np.float32(1.0), mass, out=np.zeros(len(mass), np.float32), where=mass > 0)
    return inverse


def side_statistics(side: SideSnapshot) -> CorpusStatistics:
    """The BM25 statistics of a side: its main segment's (the delta is weighted with them)."""
    return (side.main if len(side.main.document_ids) else side.delta).lexical.statistics
