"""Why two texts match, short enough for a list: quoted passages, shared words, shared tags
and what each signal added, as one pydantic model (`Explanation`) that the API returns and the
web pages show. Every quote is a whole sentence of its text, or a marked cut of one, with its offsets.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass

from app.matching.fusion import SIGNALS
from app.matching.quote_spans import quote_span, sentences
from app.matching.text import DATA_DIR, Language, Passage, read_word_list, stemmed_words

MAX_SNIPPET_CHARS = 240
MAX_SHARED_TERMS = 8
SUMMARY_TERMS = 3
# Words nearly every profile and call uses ("we", "werken", "systems"): never shown as shared.
GENERIC_WORDS = read_word_list(DATA_DIR / "generic-words.txt")


# A slotted pydantic dataclass rather than a model: the engine keeps two quotes per explained
# match between asks (materialised.py), and slotted they take 64 bytes each instead of 488
# (tracemalloc, pydantic 2.14).
@pydantic_dataclass(frozen=True, slots=True)
class Quote:
    """A quoted part of a text, with where it is: `text` is `full_text[start:end]`, with "…"
    before or after it where a sentence too long to show is cut."""

    text: str
    start: int = Field(
        description="Offset in the full text of the quote's first character (after a leading …)")
    end: int = Field(
        description="Offset in the full text just past the quote's last character (before a trailing …)")


class SignalShare(BaseModel):
    model_config = ConfigDict(frozen=True)

    contribution: float = Field(description="The signal's part of the match's text score")
    used: bool = Field(description="Whether the signal saw the pair and counted in its score")


class MatchLanguages(BaseModel):
    model_config = ConfigDict(frozen=True)

    query: Language = Field(description="Language of the text the matches were asked for")
    match: Language = Field(description="Language of the matched text")


class Explanation(BaseModel):
    """Why a document matches a query: the passage of each that fit best (quoted), the words and
    tags they share, and how much each signal added to the score."""

    model_config = ConfigDict(frozen=True)

    summary: str = Field(description="Why, in one Dutch sentence")
    query_passage: Quote = Field(description="The best-fitting sentence of the query's text")
    match_passage: Quote = Field(description="The best-fitting sentence of the matched text")
    shared_terms: tuple[str, ...] = Field(
        description="Words both texts use, rarest first, as the matched text writes them")
    shared_nld_areas: tuple[str, ...] = Field(description="NLD key technology areas both carry")
    shared_sectors: tuple[str, ...] = Field(description="Sectors both carry")
    signals: dict[str, SignalShare] = Field(
        description=f"Per signal ({', '.join(SIGNALS)}) its part of the text score")
    structured_bonus: float = Field(description="What the shared areas and sectors add to the score")
    languages: MatchLanguages


@dataclass(frozen=True, slots=True)
class ExplanationTexts:
    """The quotes and shared words of an explanation: its costly part, which depends only on the
    two texts, the chosen passages and the stem rarity (the engine keeps it between asks)."""

    query_passage: Quote
    match_passage: Quote
    shared_terms: tuple[str, ...]


def word_forms(text: str, language: Language) -> dict[str, str]:
    """Each stem of `text` with the word that first produced it, as written: what the shared
    words of an explanation are looked up in (the engine keeps these per document)."""
    forms: dict[str, str] = {}
    for start, end, stems in stemmed_words(text, language):
        for stem in stems:
            forms.setdefault(stem, text[start:end])
    return forms


def shared_terms(
    match_forms: Mapping[str, str], common: Set[str], document_frequency: Mapping[str, int]
) -> tuple[str, ...]:
    """Words both texts use (`common` stems), rarest first, as written in the matched text;
    generic words left out."""
    rarest_first = sorted(common, key=lambda stem: (document_frequency.get(stem, 0), stem))
    # Two stems can come from one word (unknown language); show each word once.
    forms = (match_forms[stem] for stem in rarest_first if stem not in GENERIC_WORDS)
    return tuple(form for form in dict.fromkeys(forms) if form.lower() not in GENERIC_WORDS)[:MAX_SHARED_TERMS]


def snippet(text: str, passage: Passage, highlight_stems: Set[str], language: Language) -> Quote:
    """The sentence of `passage` with the most highlighted words, whole if it fits in
    MAX_SNIPPET_CHARS, else cut at clause (or word) boundaries with "…" marking each cut."""
    starts = _stem_starts(passage.text, language)
    few, many = (starts, highlight_stems) if len(starts) < len(highlight_stems) else (highlight_stems, starts)
    # Where the highlighted words start in the text; a word with two stems counts once.
    hits_at = sorted({passage.start + start for stem in few if stem in many for start in starts[stem]})
    best_span: tuple[int, int] | None = None
    best_hits = -1
    # Sentences of the whole text, so that a passage starting mid-sentence still quotes whole ones.
    for start, end in sentences(text):
        if end <= passage.start or start >= passage.end:
            continue
        hits = bisect_left(hits_at, end) - bisect_left(hits_at, start)
        if hits > best_hits:
            best_span, best_hits = (start, end), hits
    if best_span is None:
        return Quote("", passage.start, passage.start)
    sentence_start, sentence_end = best_span
    anchor = hits_at[bisect_left(hits_at, sentence_start)] if best_hits else sentence_start
    start, end = quote_span(text, sentence_start, sentence_end, anchor, MAX_SNIPPET_CHARS)
    shown = ("…" if start > sentence_start else "") + text[start:end] + ("…" if end < sentence_end else "")
    return Quote(shown, start, end)


@lru_cache(maxsize=2048)
def _stem_starts(passage_text: str, language: Language) -> dict[str, tuple[int, ...]]:
    """Where the words of each stem start in a passage, cached: explanations quote the same
    query passage for every match of a list, and the passages of popular documents again and
    again. (Looking up the few shared stems here is what keeps a list's ten quotes fast.)"""
    starts: dict[str, list[int]] = {}
    for start, _, stems in stemmed_words(passage_text, language):
        for stem in stems:
            starts.setdefault(stem, []).append(start)
    return {stem: tuple(found) for stem, found in starts.items()}


def explanation_texts(
    *,
    query_text: str,
    query_language: Language,
    query_passage: Passage,
    query_stems: Set[str],
    match_text: str,
    match_language: Language,
    match_passage: Passage,
    match_forms: Mapping[str, str],
    document_frequency: Mapping[str, int],
) -> ExplanationTexts:
    """The quoted passages and shared words of a match. `match_forms` is
    word_forms(match_text, match_language)."""
    common = query_stems & match_forms.keys()
    return ExplanationTexts(
        query_passage=snippet(query_text, query_passage, common, query_language),
        match_passage=snippet(match_text, match_passage, common, match_language),
        shared_terms=shared_terms(match_forms, common, document_frequency),
    )


def explain_match(
    *,
    texts: ExplanationTexts,
    query_language: Language,
    match_language: Language,
    shared_nld_areas: Sequence[str],
    shared_sectors: Sequence[str],
    contributions: Sequence[float],
    visible: Sequence[bool],
    bonus: float,
) -> Explanation:
    """The whole explanation: `texts` (from explanation_texts) with the tags and numbers."""
    # One validation of the whole, which builds the nested models itself: a match page explains
    # ten matches per ask, and a model per signal built here first would cost half as much again.
    return Explanation.model_validate({
        "summary": summary(texts.shared_terms, shared_nld_areas, shared_sectors, query_language, match_language),
        "query_passage": texts.query_passage,
        "match_passage": texts.match_passage,
        "shared_terms": texts.shared_terms,
        "shared_nld_areas": shared_nld_areas,
        "shared_sectors": shared_sectors,
        "signals": {
            name: {"contribution": round(float(part), 4), "used": bool(seen)}
            for name, part, seen in zip(SIGNALS, contributions, visible, strict=True)
        },
        "structured_bonus": round(float(bonus), 4),
        "languages": {"query": query_language, "match": match_language},
    })


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} en {items[-1]}"


def summary(
    terms: Sequence[str], nld_areas: Sequence[str], sectors: Sequence[str], query_language: Language,
    match_language: Language,
) -> str:
    """One plain Dutch sentence saying why two texts match."""
    parts = []
    if terms:
        parts.append(f"beide gaan over {_listed(list(terms[:SUMMARY_TERMS]))}")
    elif query_language != match_language and "unknown" not in (query_language, match_language):
        parts.append("de teksten zeggen in twee talen hetzelfde, zonder gedeelde woorden")
    else:
        parts.append("de teksten lijken in betekenis op elkaar, zonder opvallende gedeelde woorden")
    if nld_areas or sectors:
        parts.append("ze delen " + ("NLD-gebieden en sectoren" if nld_areas and sectors
                                    else "een NLD-gebied" if len(nld_areas) == 1
                                    else "NLD-gebieden" if nld_areas
                                    else "een sector" if len(sectors) == 1 else "sectoren"))
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def no_explanation() -> Explanation:
    """The explanation of a match made by name alone (no shared text to quote)."""
    return explain_match(
        texts=ExplanationTexts(Quote("", 0, 0), Quote("", 0, 0), ()), query_language="unknown",
        match_language="unknown", shared_nld_areas=(), shared_sectors=(), contributions=(0.0,) * len(SIGNALS),
        visible=(False,) * len(SIGNALS), bonus=0.0,
    )
