"""The real bundled encoders: loaded from installed packages, without any network."""

import socket

import pytest

from app.matching.engine import Document, MatchEngine

pytestmark = pytest.mark.real_models


@pytest.fixture(scope="module")
def encoders():
    from app.matching.encoders import UsemEncoder, bundled_dense_encoder

    return bundled_dense_encoder(), UsemEncoder()


def test_constructing_and_using_the_encoders_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from app.matching.encoders import UsemEncoder, bundled_dense_encoder

    dense, multilingual = bundled_dense_encoder(), UsemEncoder()
    for encoder in (dense, multilingual):
        vectors = encoder.encode(["actieve gehoorbescherming", "active hearing protection"], kind="passage")
        assert vectors.shape == (2, encoder.dim)
        assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_a_dutch_need_finds_the_english_company_that_answers_it(tmp_path, encoders):
    dense, multilingual = encoders
    companies = [
        Document("company", 1, "We design thermal imaging cameras and night vision optics for surveillance."),
        Document("company", 2, "We grow organic vegetables and sell them at the weekly market."),
        Document("company", 3, "Our bakery delivers bread and pastries to hotels and restaurants."),
        Document("company", 4, "We build acoustic modems for wireless communication under water."),
    ]
    engine = MatchEngine(tmp_path, dense, multilingual)
    engine.upsert(companies)
    need = Document(
        "need", 10, "Defensie zoekt nachtzichtapparatuur en warmtebeeldcamera's voor bewaking van kazernes."
    )
    [best, *_] = engine.match(need, target="company", limit=4)
    assert best.id == 1
    signals = best.explanation["signals"]
    # The English-only model cannot read the Dutch need: it must not have been used.
    assert signals["dense"]["used"] is False and signals["multilingual"]["used"] is True
    engine.close()


def test_an_english_query_finds_a_dutch_company(tmp_path, encoders):
    dense, multilingual = encoders
    engine = MatchEngine(tmp_path, dense, multilingual)
    engine.upsert(
        [
            Document("company", 1, "Wij maken kogelwerende vesten en ballistische panelen voor de politie."),
            Document("company", 2, "Wij verzorgen de boekhouding en belastingaangifte voor zzp'ers."),
            Document("company", 3, "Wij bouwen houten tuinhuizen en overkappingen op maat."),
        ]
    )
    assert engine.match("bullet-proof vests and ballistic protection", target="company", limit=1)[0].id == 1
    engine.close()
