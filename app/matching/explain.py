"""Why two texts match, short enough for a list: quoted passages, shared words, shared tags
and what each signal added. Everything returned is plain JSON-serialisable data, and every
quote is a real substring of its text (with its offsets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.matching.fusion import SIGNALS
from app.matching.text import Language, Passage, sentence_spans, stem_to_surface, tokenize, words

MAX_SNIPPET_CHARS = 240
MAX_SHARED_TERMS = 8


def shared_terms(
    query_text: str,
    query_language: Language,
    match_text: str,
    match_language: Language,
    document_frequency: Mapping[str, int],
) -> list[str]:
    """Words both texts use (compared by stem), rarest first, as written in the matched text."""
    query_stems = set(tokenize(query_text, query_language))
    shown = stem_to_surface(match_text, match_language)
    common = [stem for stem in shown if stem in query_stems]
    common.sort(key=lambda stem: (document_frequency.get(stem, 0), stem))
    # Two stems can come from one word (unknown language); show each word once.
    return list(dict.fromkeys(shown[stem] for stem in common))[:MAX_SHARED_TERMS]


def snippet(text: str, passage: Passage, highlight_stems: set[str], language: Language) -> dict:
    """The sentence of `passage` with the most highlighted words, cut to MAX_SNIPPET_CHARS.

    Returns {"text", "start", "end"} where text == full_text[start:end].
    """
    best_span, best_hits = None, -1
    for start, end in sentence_spans(passage.text):
        hits = sum(
            1 for w in words(passage.text[start:end]) if set(tokenize(w.surface, language)) & highlight_stems
        )
        if hits > best_hits:
            best_span, best_hits = (start, end), hits
    if best_span is None:
        return {"text": "", "start": passage.start, "end": passage.start}
    start, end = passage.start + best_span[0], passage.start + best_span[1]
    if end - start > MAX_SNIPPET_CHARS:
        start, end = _window_around_first_hit(text, start, end, highlight_stems, language)
    return {"text": text[start:end], "start": start, "end": end}


def _window_around_first_hit(
    text: str, start: int, end: int, stems: set[str], language: Language
) -> tuple[int, int]:
    """A window of at most MAX_SNIPPET_CHARS inside [start, end) on word boundaries, a little
    before the first highlighted word so the reader sees its context."""
    sentence_words = words(text[start:end])
    anchor = next((w.start for w in sentence_words if set(tokenize(w.surface, language)) & stems), 0)
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


def explain_match(
    *,
    query_text: str,
    query_language: Language,
    query_passage: Passage,
    match_text: str,
    match_language: Language,
    match_passage: Passage,
    document_frequency: Mapping[str, int],
    shared_nld_areas: Sequence[str],
    shared_sectors: Sequence[str],
    contributions: Sequence[float],
    visible: Sequence[bool],
    bonus: float,
) -> dict:
    terms = shared_terms(query_text, query_language, match_text, match_language, document_frequency)
    query_stems = set(tokenize(query_text, query_language))
    match_stems = set(tokenize(match_text, match_language))
    common = query_stems & match_stems
    return {
        "query_passage": snippet(query_text, query_passage, common, query_language),
        "match_passage": snippet(match_text, match_passage, common, match_language),
        "shared_terms": terms,
        "shared_nld_areas": list(shared_nld_areas),
        "shared_sectors": list(shared_sectors),
        "signals": {
            name: {"contribution": round(float(part), 4), "used": bool(seen)}
            for name, part, seen in zip(SIGNALS, contributions, visible, strict=True)
        },
        "structured_bonus": round(float(bonus), 4),
        "languages": {"query": query_language, "match": match_language},
    }
