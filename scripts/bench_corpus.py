"""Synthetic but realistic corpora for the benchmark, and vectors derived from real ones.

Texts: every company profile and need is stitched together from a finite pool of sentences —
the sentences of the seed companies, needs and EU calls in `seed/`, plus Dutch and English
template sentences filled with capabilities, materials, markets and places — around a
generated name line. Profiles are ~80 % Dutch and ~20 % English and 400–1,700 characters
(mean about 1,000); needs are short Dutch defence needs and programmes, and about one in six
is a long English EU call (3,000–9,000 characters).

Vectors: encoding 100,000 profiles with the real encoders takes hours on two cores, so every
sentence of the pool is encoded once with the real encoders (cached on disk), and a passage's
vector is the normalised mean of the real vectors of the pool sentences it contains, plus a
little Gaussian noise so no two documents share a vector (`DerivedEncoder`). Texts the pool
does not cover — free-text queries — go to the real encoder. The ingest figures are measured
separately with the real encoders on real-length profiles.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from app.matching.store import Document, EmbeddingCache, sha256
from app.matching.text import sentence_spans

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seed"

MUNICIPALITIES = [
    "Assen", "Emmen", "Hoogeveen", "Meppel", "Coevorden", "Borger-Odoorn", "Aa en Hunze", "Tynaarlo",
    "Noordenveld", "Midden-Drenthe", "Westerveld", "De Wolden",
]
SECTORS = [
    "groene-chemie", "maakindustrie", "sensortechnologie", "medische-biotechnologie", "agrifood", "energie",
    "logistiek", "ict-digitalisering", "ruimtevaart-astronomie", "veiligheid", "zakelijke-dienstverlening",
]
NLD_AREAS = ["intelligente-systemen", "sensoren", "slimme-materialen", "ruimtetechnologie", "quantumtechnologie"]

NL_CAPABILITIES = [
    "precisieverspaning van aluminium en titanium", "spuitgieten van technische kunststoffen",
    "composiet onderdelen voor voertuigen", "lassen en constructiewerk", "poedercoaten en natlakken",
    "printplaatassemblage en elektronica", "embedded software", "drones voor inspectie",
    "radar- en antennetechniek", "optische sensoren en camera's", "nachtzichtapparatuur",
    "actieve gehoorbescherming", "beschermende kleding en textiel", "aramidevezels", "batterijpakketten",
    "waterstofopslag", "noodstroom en microgrids", "predictief onderhoud van voertuigen",
    "cybersecurity voor industriële systemen", "data-analyse en kunstmatige intelligentie",
    "simulatie en training", "veldvoeding en catering", "medische hulpmiddelen", "diagnostiek",
    "transport en warehousing", "3D-printen van metalen onderdelen", "kabelbomen", "hydrauliek",
    "satellietcommunicatie", "beveiliging van terreinen", "tentoonstellingsbouw en tenten",
    "recycling van kunststoffen", "mechatronica en robotica", "keuring en certificering",
]
EN_CAPABILITIES = [
    "precision machining of aluminium and titanium", "injection moulding of engineering plastics",
    "composite parts for vehicles", "welding and steel structures", "powder coating",
    "printed circuit board assembly", "embedded software", "inspection drones", "radar and antenna design",
    "optical sensors and cameras", "night vision equipment", "active hearing protection",
    "protective clothing and textiles", "battery packs", "hydrogen storage", "microgrids and backup power",
    "predictive maintenance of vehicles", "cyber security for industrial control systems",
    "data analytics and artificial intelligence", "simulation and training", "field catering",
    "medical devices", "diagnostics", "logistics and warehousing", "metal additive manufacturing",
    "cable harnesses", "hydraulics", "satellite communication", "perimeter security", "robotics",
]
NL_MARKETS = ["Defensie", "de maakindustrie", "de zorg", "de agrarische sector", "de energiesector",
              "de offshore", "de bouw", "overheden", "de luchtvaart", "de scheepsbouw"]
EN_MARKETS = ["defence", "manufacturing", "healthcare", "agriculture", "the energy sector", "offshore",
              "construction", "public authorities", "aerospace", "shipbuilding"]

NL_TEMPLATES = [
    "Wij zijn gespecialiseerd in {cap}.",
    "Ons team levert {cap} voor {market}.",
    "Daarnaast bieden wij {cap} in kleine en middelgrote series.",
    "Met eigen engineering ontwikkelen wij oplossingen voor {market}.",
    "Wij werken voor klanten in {market} en leveren {cap}.",
    "Onze kracht ligt in {cap} en snelle levering.",
    "Wij zoeken samenwerking met partners in {market} op het gebied van {cap}.",
    "Kwaliteit staat voorop: wij werken volgens ISO 9001 en leveren {cap}.",
]
EN_TEMPLATES = [
    "We specialise in {cap}.",
    "Our team delivers {cap} for {market}.",
    "We also offer {cap} in small and medium series.",
    "With in-house engineering we develop solutions for {market}.",
    "We serve customers in {market} and supply {cap}.",
    "Our strength is {cap} with short lead times.",
    "We are looking for partners in {market} for {cap}.",
]
NL_NEED_TEMPLATES = [
    "Defensie zoekt leveranciers voor {cap}.",
    "Gevraagd: bedrijven met ervaring in {cap} voor inzet bij {market}.",
    "De behoefte betreft {cap} die onder veldomstandigheden betrouwbaar werkt.",
    "Een pilot met {cap} is voorzien in de regio Drenthe.",
    "Bedrijven kunnen reageren met een voorstel voor {cap}.",
]


def _sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text) if end - start >= 20]


@dataclass
class SentencePools:
    company_nl: list[str]
    company_en: list[str]
    need_nl: list[str]
    call_en: list[list[str]]  # per EU call, its sentences in order

    def all_sentences(self) -> list[str]:
        found = [*self.company_nl, *self.company_en, *self.need_nl]
        found += [s for call in self.call_en for s in call]
        return list(dict.fromkeys(found))


def sentence_pools(rng: np.random.Generator, templates_per_kind: int = 400) -> SentencePools:
    companies = yaml.safe_load((SEED / "companies.yaml").read_text(encoding="utf-8"))
    companies += yaml.safe_load((SEED / "demo" / "companies.yaml").read_text(encoding="utf-8"))
    needs = []
    for name in ("defence_needs", "programmes", "clusters"):
        needs += yaml.safe_load((SEED / "needs" / f"{name}.yaml").read_text(encoding="utf-8"))
    with (SEED / "eu_calls_2024_defence_security.csv").open(encoding="utf-8") as handle:
        calls = [row["description"] for row in csv.DictReader(handle)]

    def filled(templates: list[str], caps: list[str], markets: list[str], count: int) -> list[str]:
        return list(dict.fromkeys(
            templates[int(rng.integers(len(templates)))].format(
                cap=caps[int(rng.integers(len(caps)))], market=markets[int(rng.integers(len(markets)))]
            )
            for _ in range(count)
        ))

    seed_company_sentences = [s for c in companies for s in _sentences(c["description"])]
    english_seed = [s for s in seed_company_sentences if " the " in s or " and " in s]
    return SentencePools(
        company_nl=[*seed_company_sentences, *filled(NL_TEMPLATES, NL_CAPABILITIES, NL_MARKETS, templates_per_kind)],
        company_en=[*english_seed, *filled(EN_TEMPLATES, EN_CAPABILITIES, EN_MARKETS, templates_per_kind)],
        need_nl=[*(s for n in needs for s in _sentences(n["description"])),
                 *filled(NL_NEED_TEMPLATES, NL_CAPABILITIES, NL_MARKETS, templates_per_kind // 2)],
        call_en=[_sentences(c) for c in calls if len(c) > 2000],
    )


def _pick(rng: np.random.Generator, pool: list[str], count: int) -> list[str]:
    return [pool[int(i)] for i in rng.choice(len(pool), size=min(count, len(pool)), replace=False)]


def company_record(number: int, pools: SentencePools, rng: np.random.Generator) -> dict:
    """A company as `koppelkans import` reads it (JSON line), ~1,000 characters of description."""
    english = rng.random() < 0.2
    pool = pools.company_en if english else pools.company_nl
    sentences: list[str] = []
    target = int(rng.normal(1000, 300))
    while sum(len(s) + 1 for s in sentences) < max(400, min(target, 1700)):
        sentences.append(pool[int(rng.integers(len(pool)))])
    municipality = MUNICIPALITIES[int(rng.integers(len(MUNICIPALITIES)))]
    return {
        "name": f"{'Northern' if english else 'Drentse'} Techniek {number} B.V.",
        "kvk_number": f"{40000000 + number:08d}",
        "municipality": municipality,
        "description": " ".join(sentences),
        "contact_email": f"info{number}@example.nl",
        "consent": True,
        "sectors": _pick(rng, SECTORS, int(rng.integers(1, 3))),
        "nld_areas": _pick(rng, NLD_AREAS, int(rng.integers(0, 2))),
        "defence_experience": ["none", "indirect", "supplier"][int(rng.integers(3))],
    }


def need_record(number: int, pools: SentencePools, rng: np.random.Generator) -> dict:
    """A need: a short Dutch defence need / programme, or (one in six) a long English EU call."""
    if rng.random() < 1 / 6:
        call = pools.call_en[int(rng.integers(len(pools.call_en)))]
        start = int(rng.integers(max(1, len(call) - 20)))
        sentences = call[start : start + int(rng.integers(20, 60))]
        title, kind = f"EU call topic {number}: defence technology", "call"
    else:
        sentences = _pick(rng, pools.need_nl, int(rng.integers(2, 8)))
        title, kind = f"Behoefte {number}: leveranciers gezocht", "defence_need"
    return {
        "title": title,
        "description": " ".join(sentences),
        "kind": kind,
        "sectors": _pick(rng, SECTORS, int(rng.integers(1, 3))),
        "nld_areas": _pick(rng, NLD_AREAS, int(rng.integers(0, 3))),
    }


def company_document(number: int, record: dict) -> Document:
    """The text the service builds for a company (see app.services.matchable.company_document)."""
    return Document("company", number, f"{record['name']}\n{record['description']}",
                    tuple(record["nld_areas"]), tuple(record["sectors"]))


def need_document(number: int, record: dict) -> Document:
    return Document("need", number, f"{record['title']}\n{record['description']}",
                    tuple(record["nld_areas"]), tuple(record["sectors"]))


class DerivedEncoder:
    """Vectors derived from real sentence vectors (see the module docstring).

    It reports the real encoder's `model_id`, so vectors it makes can be put in the engine's
    embedding cache for a server that loads the real encoders.
    """

    def __init__(self, real, sentence_vectors: dict[str, np.ndarray], noise: float = 0.25) -> None:
        self.real, self.model_id, self.dim = real, real.model_id, real.dim
        self.cross_lingual = real.cross_lingual
        self._vectors, self._noise = sentence_vectors, noise

    def encode(self, texts, *, kind):
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        unknown = []
        for row, text in enumerate(texts):
            known = [self._vectors[s] for s in (text[a:b] for a, b in sentence_spans(text)) if s in self._vectors]
            if not known:
                unknown.append(row)
                continue
            mean = np.mean(known, axis=0)
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            noise = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            rows[row] = mean / np.linalg.norm(mean) + self._noise * noise / np.linalg.norm(noise)
        if unknown:
            rows[unknown] = self.real.encode([texts[i] for i in unknown], kind=kind)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class SeededRandomEncoder:
    """Unit vectors seeded by the text: deterministic, fast at 100,000 texts, and no model to load
    (`bench.py --synthetic` measures the engine's own work with it)."""

    cross_lingual = False

    def __init__(self, dim: int, name: str) -> None:
        self.dim, self.model_id = dim, f"seeded-random-{name}-{dim}"

    def encode(self, texts, *, kind):
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rows[row] = np.random.default_rng(seed).standard_normal(self.dim)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def real_sentence_vectors(encoder, sentences: list[str], cache_path: Path, progress: bool = True) -> dict:
    """Real vectors of the pool sentences, read from / written to an embedding cache on disk."""
    cache = EmbeddingCache(cache_path)
    by_hash = {sha256(s): s for s in sentences}
    found = cache.get_many(encoder.model_id, by_hash, encoder.dim)
    missing = [h for h in by_hash if h not in found]
    if missing and progress:
        print(f"  encoding {len(missing)} pool sentences with {encoder.model_id} (cached for the next run)")
    for start in range(0, len(missing), 64):
        chunk = missing[start : start + 64]
        fresh = dict(zip(chunk, encoder.encode([by_hash[h] for h in chunk], kind="passage"), strict=True))
        cache.put_many(encoder.model_id, fresh)
        found.update(fresh)
    cache.close()
    return {by_hash[h]: v for h, v in found.items()}
