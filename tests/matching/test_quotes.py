"""Quotes of an explanation: whole sentences, a too-long one cut at clause boundaries and marked."""

from pathlib import Path

import yaml

from app.matching.explain import MAX_SNIPPET_CHARS, snippet
from app.matching.text import Passage, stemmed_words

SEED = Path(__file__).resolve().parents[2] / "seed"


def seeded_description(slug: str) -> str:
    companies = yaml.safe_load((SEED / "companies.yaml").read_text(encoding="utf-8"))
    return str(next(company["description"] for company in companies if company["slug"] == slug))


def stems_of(word: str) -> set[str]:
    return {stem for _, _, stems in stemmed_words(word, "nl") for stem in stems}


def quote_of(text: str, word: str):
    return snippet(text, Passage(0, len(text), text), stems_of(word), "nl")


def shown_around(text: str, word: str):
    """The quote around `word` and the part of `text` it shows, which holds the word and fits."""
    quote = quote_of(text, word)
    quoted = text[quote.start : quote.end]
    assert word in quoted and len(quoted) <= MAX_SNIPPET_CHARS
    return quote, quoted


# 253 characters in one sentence, with clauses after ":" and ",".
SMART_FACTORY = "technologies-added"


def test_a_sentence_too_long_to_show_is_cut_at_a_clause_boundary_and_marked():
    text = seeded_description(SMART_FACTORY)
    sentence_end = text.index("Defensie.") + len("Defensie.")
    assert sentence_end > MAX_SNIPPET_CHARS

    quote, quoted = shown_around(text, "Defensie")
    # The quote runs to the sentence's end and is cut at its start, just after a clause mark.
    assert quote.end == sentence_end and quote.start > 0
    assert text[: quote.start].rstrip()[-1] in ",;:"
    assert quote.text == "…" + quoted


def test_the_cut_at_the_end_leaves_out_the_clause_mark():
    text = seeded_description(SMART_FACTORY)
    quote = quote_of(text, "productielocatie")
    quoted = text[quote.start : quote.end]
    assert quote.start == 0 and quoted.startswith("De eerste Shared Smart Factory")
    assert text[quote.end] in ",;:" and quote.text == quoted + "…"
    assert len(quoted) <= MAX_SNIPPET_CHARS


def test_a_sentence_that_fits_is_quoted_whole():
    text = seeded_description(SMART_FACTORY)
    quote = quote_of(text, "Greenwise")
    assert quote.text == "Regionale partner van de Greenwise Campus."
    assert text[quote.start : quote.end] == quote.text


def test_a_clause_too_long_to_show_is_cut_at_word_boundaries():
    clause = " ".join(["kogelwerende vesten van aramide voor de krijgsmacht"] * 8)
    text = f"Wij maken {clause} in Emmen."
    quote, quoted = shown_around(text, "Emmen")
    assert not text[quote.start - 1].isalnum() and quote.end == len(text)
    # Cut at its start only: the window ends where the sentence does.
    assert quote.text == "…" + quoted and quoted.endswith(" in Emmen.")


def test_a_clause_too_long_to_show_is_cut_on_both_sides_around_its_first_shared_word():
    vests = " ".join(["kogelwerende vesten van aramide voor de krijgsmacht"] * 4)
    text = f"Wij maken {vests} in Emmen {vests} voor Defensie."
    quote, quoted = shown_around(text, "Emmen")
    assert not text[quote.start - 1].isalnum() and not text[quote.end].isalnum()
    assert quote.text == "…" + quoted + "…"


def test_sentences_pasted_without_a_space_are_quoted_one_at_a_time():
    text = "Wij bouwen radar.Wij leveren ook warmtebeeldcamera's aan Defensie."
    quote = quote_of(text, "warmtebeeldcamera")
    assert quote.text == "Wij leveren ook warmtebeeldcamera's aan Defensie."
