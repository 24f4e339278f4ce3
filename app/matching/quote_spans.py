"""Where a quote of a text starts and ends: whole sentences, and a sentence too long to show cut at
clause boundaries (";", ":", ",", a dash), or, for one clause too long to show, at word boundaries.
Spans only: `explain.snippet` turns them into quotes and marks each cut with "…"."""

from __future__ import annotations

import re
from functools import lru_cache

from app.matching.text import words

# A sentence ends at ".", "!" or "?" followed by white space or, in texts pasted without it
# ("technologies.Study the …"), directly by a capital after a lower-case word; a line break ends
# one too.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+|(?<=[a-z)][.!?])(?=[A-Z])|\n\s*")
# A clause ends at ";", ":" or "," followed by white space, or at a dash between spaces.
_CLAUSE_END_RE = re.compile(r"[;:,]\s+|\s+[-–—]\s+")


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@lru_cache(maxsize=4096)
def sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of the sentences of `text`, without surrounding white space (cached: popular
    documents are quoted again and again)."""
    spans = []
    position = 0
    for boundary in _SENTENCE_END_RE.finditer(text):
        spans.append(_trimmed(text, position, boundary.start()))
        position = boundary.end()
    spans.append(_trimmed(text, position, len(text)))
    return tuple((start, end) for start, end in spans if end > start)


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The clauses of the sentence [start, end), each without the mark that ends it."""
    spans = []
    position = start
    for boundary in _CLAUSE_END_RE.finditer(text, start, end):
        spans.append((position, boundary.start()))
        position = boundary.end()
    spans.append((position, end))
    return [(first, last) for first, last in spans if last > first]


def quote_span(text: str, start: int, end: int, anchor: int, limit: int) -> tuple[int, int]:
    """The part of the sentence [start, end) to quote, at most `limit` characters around the
    character `anchor` (the first highlighted word): the whole sentence if it fits, else the
    clauses around the anchor that fit, else the words around it."""
    if end - start <= limit:
        return start, end
    clauses = _clauses(text, start, end)
    at = next((i for i, (_, last) in enumerate(clauses) if anchor < last), len(clauses) - 1)
    first = last = at
    if clauses[at][1] - clauses[at][0] > limit:
        return _words_around(text, *clauses[at], anchor, limit)
    grown = True
    while grown:
        grown = False
        # Earlier clauses first, so the quote starts where the sentence's thought starts.
        if first > 0 and clauses[last][1] - clauses[first - 1][0] <= limit:
            first, grown = first - 1, True
        if last + 1 < len(clauses) and clauses[last + 1][1] - clauses[first][0] <= limit:
            last, grown = last + 1, True
    return clauses[first][0], clauses[last][1]


def _words_around(text: str, start: int, end: int, anchor: int, limit: int) -> tuple[int, int]:
    """At most `limit` characters of [start, end) on word boundaries, a little before `anchor` so
    the reader sees its context."""
    # A little before the anchor, but no later than leaves a full window before the end.
    window_start = max(start, min(anchor - limit // 4, end - limit))
    window_end = min(end, window_start + limit)
    inner = words(text[window_start:window_end])
    # Move a cut edge in to the nearest whole word, as long as one word remains.
    if len(inner) > 1 and window_start > start and text[window_start - 1].isalnum():
        inner = inner[1:]
    if len(inner) > 1 and window_end < end and text[window_end].isalnum():
        inner = inner[:-1]
    if inner:
        base = window_start
        if window_start > start:
            window_start = base + inner[0].start
        if window_end < end:
            window_end = base + inner[-1].end
    return window_start, window_end
