"""Text handling for matching: language detection, stemmed tokens and passages.

Everything here is a pure function of its input, so the lexical index, the explanations
and the evaluation all see exactly the same tokens and passages.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import Stemmer

Language = Literal["nl", "en", "unknown"]

# Saved indexes record this number; change it whenever tokenising or passage splitting
# changes, so indexes built under the old rules are rebuilt instead of silently mismatching.
TEXT_RULES_VERSION = 1

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def read_word_list(path: Path) -> frozenset[str]:
    """The words of a list shipped in app/data: one a line, `#` starts a comment line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


# The NLTK stop-word lists (app/data/stopwords-*.txt, where they come from is noted there),
# widened with frequent function words the short lists miss (Dutch "wordt", "kunnen",
# "worden" … and English "will", "also" …).
DUTCH_STOPWORDS = read_word_list(DATA_DIR / "stopwords-nl.txt") | {
    "wordt",
    "worden",
    "kunnen",
    "onze",
    "ons",
    "zijn",
    "hun",
    "deze",
    "waar",
    "welke",
    "ook",
    "bij",
    "naar",
    "voor",
    "over",
    "tussen",
    "onder",
    "zoals",
    "binnen",
    "door",
    "waarbij",
    "gaat",
    "biedt",
    "heeft",
    "hebben",
    "maakt",
    "maken",
    "andere",
    "nieuwe",
    "steeds",
}
ENGLISH_STOPWORDS = read_word_list(DATA_DIR / "stopwords-en.txt") | {
    "will",
    "also",
    "may",
    "shall",
    "within",
    "including",
    "well",
    "via",
    "e.g",
    "i.e",
}

# Words that are stop words in one language and content-free markers of it: the language
# detector counts these. Words shared by both lists ("in", "is", "over", "had", …) are left
# out, because they say nothing about which language a text is in.
_DUTCH_MARKERS = DUTCH_STOPWORDS - ENGLISH_STOPWORDS
_ENGLISH_MARKERS = ENGLISH_STOPWORDS - DUTCH_STOPWORDS

# When both languages' markers occur, a text needs at least this many before we name its
# language, and the winner must have clearly more markers than the other one.
MIN_MARKER_WORDS = 2
MIN_MARKER_MAJORITY = 0.6

_WORD_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)

_STEMMER_NAMES = {"nl": "dutch", "en": "english"}
# PyStemmer stemmers are not documented as thread-safe; one per thread is cheap.
_stemmers = threading.local()


def _stemmer(language: str) -> Stemmer.Stemmer:
    cache = getattr(_stemmers, "by_language", None)
    if cache is None:
        cache = _stemmers.by_language = {}
    if language not in cache:
        cache[language] = Stemmer.Stemmer(_STEMMER_NAMES[language])
    return cache[language]


@dataclass(frozen=True)
class Word:
    """A word of a text with its position, so explanations can show the original form."""

    surface: str  # as written
    start: int
    end: int


def words(text: str) -> list[Word]:
    """All words of `text` with character offsets (letters and digits; hyphenated words kept whole)."""
    return [Word(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(text)]


def detect_language(text: str) -> Language:
    """Guess whether `text` is Dutch or English from its function words.

    Rule: count the words that are stop words of only one of the two languages ("markers").
    - No markers at all: "unknown" (a one-line profile such as "Actieve gehoorbescherming").
    - Markers of one language only: that language, even if there is just one ("radar for
      ships" is English, "drones voor inspectie" Dutch).
    - Markers of both: the language with at least MIN_MARKER_MAJORITY of at least
      MIN_MARKER_WORDS markers; a mixed text without a clear majority is "unknown".
    """
    lowered = [w.surface.lower() for w in words(text)]
    dutch = sum(1 for w in lowered if w in _DUTCH_MARKERS)
    english = sum(1 for w in lowered if w in _ENGLISH_MARKERS)
    total = dutch + english
    if total == 0:
        return "unknown"
    if english == 0:
        return "nl"
    if dutch == 0:
        return "en"
    if total < MIN_MARKER_WORDS:
        return "unknown"
    if dutch / total >= MIN_MARKER_MAJORITY:
        return "nl"
    if english / total >= MIN_MARKER_MAJORITY:
        return "en"
    return "unknown"


@lru_cache(maxsize=200_000)
def _stems(lowered_word: str, language: Language) -> tuple[str, ...]:
    # Interned: every document holds its stems, and a word beyond this cache's size would
    # otherwise bring a new copy of its stem each time.
    if language == "unknown":
        # Without a language, index the word under both stems so that either stemming of
        # the other side can meet it; a word both stemmers agree on counts once.
        return tuple(dict.fromkeys(
            sys.intern(_stemmer(lang).stemWord(lowered_word)) for lang in ("nl", "en")
        ))
    return (sys.intern(_stemmer(language).stemWord(lowered_word)),)


def _is_stopword(lowered_word: str, language: Language) -> bool:
    if language == "nl":
        return lowered_word in DUTCH_STOPWORDS
    if language == "en":
        return lowered_word in ENGLISH_STOPWORDS
    return lowered_word in DUTCH_STOPWORDS or lowered_word in ENGLISH_STOPWORDS


def tokenize(text: str, language: Language | None = None) -> list[str]:
    """Lower-cased Snowball stems of the content words of `text`.

    Stop words and stemmer follow the text's language (detected when not given). Single
    characters and pure numbers are dropped: they match too much to be evidence.
    """
    language = language or detect_language(text)
    tokens: list[str] = []
    for word in words(text):
        lowered = word.surface.lower()
        if len(lowered) < 2 or lowered.isdigit() or _is_stopword(lowered, language):
            continue
        tokens.extend(_stems(lowered, language))
    return tokens


def stemmed_words(text: str, language: Language) -> tuple[tuple[int, int, tuple[str, ...]], ...]:
    """(start, end, stems) of each content word of `text`: `tokenize` with offsets, in one pass."""
    found = []
    for match in _WORD_RE.finditer(text):
        lowered = match.group(0).lower()
        if len(lowered) < 2 or lowered.isdigit() or _is_stopword(lowered, language):
            continue
        found.append((match.start(), match.end(), _stems(lowered, language)))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Passage:
    """A slice of a document's text: `text == document_text[start:end]`.

    It holds the document's whole text (`source`, shared by its passages) and cuts its own
    slice when asked: copied slices would take about 82 MB at 100,000 bench companies."""

    start: int
    end: int
    source: str = field(repr=False)

    @property
    def text(self) -> str:
        return self.source[self.start : self.end]


# Passages aim at TARGET_PASSAGE_CHARS, never exceed MAX_PASSAGE_CHARS unless a single
# sentence is longer, and repeat about OVERLAP_CHARS of the previous passage so a thought
# cut at a boundary is still whole in one of the two.
TARGET_PASSAGE_CHARS = 800
MAX_PASSAGE_CHARS = 1000
MIN_PASSAGE_CHARS = 600
OVERLAP_CHARS = 150

# A sentence ends at . ! ? ; or : followed by white space, or at a line break.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?;:])\s+|\n\s*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`, without surrounding white space."""
    spans: list[tuple[int, int]] = []
    position = 0
    for boundary in _SENTENCE_END_RE.finditer(text):
        spans.append((position, boundary.start()))
        position = boundary.end()
    spans.append((position, len(text)))
    trimmed = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            trimmed.append((start, end))
    return trimmed


def _split_long_span(start: int, end: int) -> list[tuple[int, int]]:
    """Cut a single over-long sentence into MAX_PASSAGE_CHARS pieces (rare: tables, lists)."""
    return [(s, min(s + MAX_PASSAGE_CHARS, end)) for s in range(start, end, MAX_PASSAGE_CHARS)]


def split_passages(text: str) -> list[Passage]:
    """Split `text` into passages of about 600–1,000 characters on sentence boundaries.

    Texts up to MAX_PASSAGE_CHARS are one passage. Each passage after the first starts with
    the last sentence(s) of the previous one, up to OVERLAP_CHARS. Offsets index `text`.
    """
    stripped = text.strip()
    if not stripped:
        return []
    if len(stripped) <= MAX_PASSAGE_CHARS:
        start = text.index(stripped)
        return [Passage(start, start + len(stripped), text)]

    sentences: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        sentences.extend(_split_long_span(start, end) if end - start > MAX_PASSAGE_CHARS else [(start, end)])

    passages: list[Passage] = []
    first = 0  # index of the first sentence of the passage being built
    while first < len(sentences):
        last = first
        # Grow while under the target, and never past the maximum.
        while (
            last + 1 < len(sentences)
            and sentences[last + 1][1] - sentences[first][0] <= MAX_PASSAGE_CHARS
            and sentences[last][1] - sentences[first][0] < TARGET_PASSAGE_CHARS
        ):
            last += 1
        start, end = sentences[first][0], sentences[last][1]
        passages.append(Passage(start, end, text))
        if last + 1 >= len(sentences):
            break
        # Step back over the trailing sentences that fit in the overlap, but always advance.
        next_first = last + 1
        while next_first - 1 > first and end - sentences[next_first - 1][0] <= OVERLAP_CHARS:
            next_first -= 1
        first = next_first

    # A short tail is folded into the passage before it when the result stays in bounds.
    if len(passages) > 1 and passages[-1].end - passages[-1].start < MIN_PASSAGE_CHARS // 2:
        merged_start, merged_end = passages[-2].start, passages[-1].end
        if merged_end - merged_start <= MAX_PASSAGE_CHARS + MIN_PASSAGE_CHARS // 2:
            passages[-2:] = [Passage(merged_start, merged_end, text)]
    return passages
