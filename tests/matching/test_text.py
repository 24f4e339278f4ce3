from app.matching.text import (
    MAX_PASSAGE_CHARS,
    detect_language,
    split_passages,
    tokenize,
)

DUTCH = "Wij ontwikkelen drones voor de inspectie van dijken en windturbines in Drenthe."
ENGLISH = "We build drones for the inspection of dykes and wind turbines in the north."


def test_language_detection():
    assert detect_language(DUTCH) == "nl"
    assert detect_language(ENGLISH) == "en"
    assert detect_language("Actieve gehoorbescherming") == "unknown"
    assert detect_language("") == "unknown"


def test_tokens_are_stemmed_without_stop_words_per_language():
    assert tokenize("De drones inspecteren de dijken", "nl") == ["drone", "inspecteer", "dijk"]
    assert tokenize("The drones inspected the dykes", "en") == ["drone", "inspect", "dyke"]


def test_a_short_text_is_one_passage_with_real_offsets():
    text = "  " + DUTCH + "\n"
    [passage] = split_passages(text)
    assert text[passage.start : passage.end] == passage.text == DUTCH


def test_long_text_passages_are_real_substrings_of_bounded_size_that_cover_the_text():
    sentences = [
        f"Zin nummer {i} beschrijft een onderdeel van de opdracht in enig detail." for i in range(120)
    ]
    text = " ".join(sentences)
    passages = split_passages(text)
    assert len(passages) > 5
    for passage in passages:
        assert text[passage.start : passage.end] == passage.text
        assert len(passage.text) <= MAX_PASSAGE_CHARS + 300
    assert passages[0].start == 0 and passages[-1].end == len(text)
    # consecutive passages touch or overlap: nothing between them is lost
    assert all(b.start <= a.end + 1 for a, b in zip(passages, passages[1:], strict=False))
    assert any(b.start < a.end for a, b in zip(passages, passages[1:], strict=False))


def test_a_very_long_sentence_is_cut():
    text = "woord " * 600
    passages = split_passages(text)
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)
    assert all(text[p.start : p.end] == p.text for p in passages)
