"""Why two texts match, short enough for a list: quoted passages, shared words, shared tags
and what each signal added. Everything returned is plain JSON-serialisable data, and every
quote is a real substring of its text (with its offsets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from functools import lru_cache

from app.matching.fusion import SIGNALS
from app.matching.text import Language, Passage, sentence_spans, stemmed_words, words

MAX_SNIPPET_CHARS = 240
MAX_SHARED_TERMS = 8


def word_forms(text: str, language: Language) -> dict[str, str]:
    """Each stem of `text` with the word that first produced it, as written: what the shared
    words of an explanation are looked up in (the engine keeps these per document)."""
    forms: dict[str, str] = {}
    # stemmed_words's cache is left to passages: a whole text is read once, here.
    for start, end, stems in stemmed_words.__wrapped__(text, language):
        for stem in stems:
            forms.setdefault(stem, text[start:end])
    return forms


def shared_terms(
    match_forms: Mapping[str, str], common: Set[str], document_frequency: Mapping[str, int]
) -> list[str]:
    """Words both texts use (`common` stems), rarest first, as written in the matched text."""
    rarest_first = sorted(common, key=lambda stem: (document_frequency.get(stem, 0), stem))
    # Two stems can come from one word (unknown language); show each word once.
    return list(dict.fromkeys(match_forms[stem] for stem in rarest_first))[:MAX_SHARED_TERMS]


def snippet(text: str, passage: Passage, highlight_stems: Set[str], language: Language) -> dict:
    """The sentence of `passage` with the most highlighted words, cut to MAX_SNIPPET_CHARS.

    Returns {"text", "start", "end"} where text == full_text[start:end].
    """
    hits_at = [start for start, _, stems in stemmed_words(passage.text, language)
               if not highlight_stems.isdisjoint(stems)]
    best_span, best_hits = None, -1
    for start, end in _sentences(passage.text):
        hits = sum(1 for position in hits_at if start <= position < end)
        if hits > best_hits:
            best_span, best_hits = (start, end), hits
    if best_span is None:
        return {"text": "", "start": passage.start, "end": passage.start}
    start, end = passage.start + best_span[0], passage.start + best_span[1]
    if end - start > MAX_SNIPPET_CHARS:
        start, end = _window_around_first_hit(text, start, end, highlight_stems, language)
    return {"text": text[start:end], "start": start, "end": end}


@lru_cache(maxsize=4096)
def _sentences(passage_text: str) -> tuple[tuple[int, int], ...]:
    """Sentence spans of a passage, cached: popular documents are explained again and again."""
    return tuple(sentence_spans(passage_text))


def _window_around_first_hit(
    text: str, start: int, end: int, stems: set[str], language: Language
) -> tuple[int, int]:
    """A window of at most MAX_SNIPPET_CHARS inside [start, end) on word boundaries, a little
    before the first highlighted word so the reader sees its context."""
    anchor = next((a for a, _, found in stemmed_words(text[start:end], language) if stems.intersection(found)), 0)
    window_start = start + max(0, anchor - MAX_SNIPPET_CHARS // 4)
    window_end = min(end, window_start + MAX_SNIPPET_CHARS)
    inner = words(text[window_start:window_end])
    # Drop a word cut at either edge, as long as one word remains.
    if len(inner) > 1 and window_start > start and text[window_start - 1].isalnum():
        inner = inner[1:]
    if len(inner) > 1 and window_end < end and text[window_end].isalnum():
        inner = inner[:-1]
    if inner:
        window_start, window_end = window_start + inner[0].start, window_start + inner[-1].end
    return window_start, window_end


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
) -> dict:
    """The quoted passages and shared words: the costly part of an explanation, which depends
    only on the two texts, the chosen passages and the stem rarity (the engine keeps it).
    `match_forms` is word_forms(match_text, match_language)."""
    common = query_stems & match_forms.keys()
    return {
        "query_passage": snippet(query_text, query_passage, common, query_language),
        "match_passage": snippet(match_text, match_passage, common, match_language),
        "shared_terms": shared_terms(match_forms, common, document_frequency),
    }


def explain_match(
    *,
    texts: dict,
    query_language: Language,
    match_language: Language,
    shared_nld_areas: Sequence[str],
    shared_sectors: Sequence[str],
    contributions: Sequence[float],
    visible: Sequence[bool],
    bonus: float,
) -> dict:
    """The whole explanation: `texts` (from explanation_texts) with the tags and numbers."""
    return {
        **texts,
        "shared_nld_areas": list(shared_nld_areas),
        "shared_sectors": list(shared_sectors),
        "signals": {
            name: {"contribution": round(float(part), 4), "used": bool(seen)}
            for name, part, seen in zip(SIGNALS, contributions, visible, strict=True)
        },
        "structured_bonus": round(float(bonus), 4),
        "languages": {"query": query_language, "match": match_language},
    }
