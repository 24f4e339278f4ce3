"""Seed data: what `koppelkans seed` loads, that it is idempotent, and that every record cites its source."""

import csv
import json
import re
import shutil
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import Session, select

from app.models import Company, Need, Organisation
from app.services.seeding import (
    CALLS_FILE,
    LineCitation,
    SeedError,
    check_citation,
    load_seed,
    load_sources,
    parse_citation,
)
from app.taxonomy import DATA_DIR, get_taxonomy

REPO = Path(__file__).resolve().parent.parent
SEED_DIR = REPO / "seed"
SOURCES = SEED_DIR / "sources"  # the cited documents, as text taken from their PDFs

DADV_SUPPLIERS = [  # 002:747-773
    "Teijin (Teijin Aramid)", "GKN Aerospace (Fokker)", "Norit", "Combimac", "Dopple", "Alumax",
    "Skyline Aviation", "Exosens-Photonis Netherlands BV", "Paques Biomaterials", "Senbis", "Hittech",
    "Omnidrones",
]


def _yaml(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or []


def _seed_records() -> list[tuple[str, dict]]:
    files = [SEED_DIR / "organisations.yaml", SEED_DIR / "companies.yaml",
             *sorted((SEED_DIR / "needs").glob("*.yaml"))]
    return [(path.relative_to(SEED_DIR).as_posix(), record) for path in files for record in _yaml(path)]


def _calls() -> list[dict]:
    with (SEED_DIR / CALLS_FILE).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_seed_loads_needs_across_kinds_and_the_dadv_suppliers(session: Session, client):
    report = load_seed(session, SEED_DIR)
    assert report.created > 0 and report.updated == 0

    assert len(get_taxonomy().nld_areas) == 5
    assert len(client.get("/api/v1/taxonomy").json()["nld_areas"]) == 5

    kinds = Counter(session.exec(select(Need.kind)).all())
    assert kinds["defence_need"] + kinds["programme"] + kinds["cluster"] >= 40
    assert kinds["defence_need"] >= 20 and kinds["programme"] >= 15
    assert kinds["cluster"] == 11
    assert kinds["call"] == len(_calls())
    assert client.get("/api/v1/needs").json()["count"] >= 40

    companies = {c.name: c for c in session.exec(select(Company)).all()}
    for name in DADV_SUPPLIERS:
        assert name in companies, name
        assert companies[name].defence_experience == "supplier"
        assert (companies[name].source, companies[name].status) == ("seed", "active")
    for slug in ("ibdo", "mkb-defensiedesk", "mindbase-noord", "regioteam-defensie-noord-nederland", "nom",
                 "founded", "european-commission"):
        assert session.exec(select(Organisation).where(Organisation.slug == slug)).first() is not None, slug


def test_calls_are_closed_needs_owned_by_the_commission(session: Session):
    load_seed(session, SEED_DIR)
    commission = session.exec(select(Organisation).where(Organisation.slug == "european-commission")).one()
    rows = {row["identifier"]: row for row in _calls()}
    calls = session.exec(select(Need).where(Need.kind == "call")).all()
    assert {call.slug for call in calls} == {identifier.lower() for identifier in rows}
    for call in calls:
        row = rows[call.source_ref.split(": ", 1)[1]]
        assert call.status == "closed" and call.owner_organisation_id == commission.id
        assert call.url.endswith("/topic-details/" + row["identifier"])
        assert call.title == row["title"].strip()
        assert (call.deadline.isoformat() if call.deadline else "") == row["deadline"][:10]
        assert (call.budget_eur is None) == (not row["budget_max"] and not row["budget_min"])


def test_a_second_run_changes_nothing(session: Session):
    load_seed(session, SEED_DIR)
    counts = {model: _count(session, model) for model in (Organisation, Need, Company)}
    again = load_seed(session, SEED_DIR)
    assert (again.created, again.updated) == (0, 0)
    assert again.unchanged == sum(counts.values())
    assert {model: _count(session, model) for model in counts} == counts


def test_every_seed_record_cites_existing_source_lines():
    line_counts = load_sources(SEED_DIR)
    documents = yaml.safe_load((SEED_DIR / "sources.yaml").read_text(encoding="utf-8"))["documents"]
    for prefix, document in documents.items():  # the listed line counts are the documents' own
        text = (SOURCES / document["file"]).read_text(encoding="utf-8")
        assert len(text.splitlines()) == document["lines"] == line_counts[prefix], prefix
    call_ids = {row["identifier"] for row in _calls()}
    records = _seed_records()
    assert len(records) > 100
    for where, record in records:
        source = record.get("source")
        assert isinstance(source, str) and source.strip(), f"{where}: {record.get('slug')} has no source"
        assert check_citation(source, line_counts, call_ids) is None, (where, record["slug"], source)
        for citation in parse_citation(source):
            assert 1 <= citation.first <= citation.last <= line_counts[citation.prefix]


def test_every_loaded_record_carries_its_source(session: Session):
    load_seed(session, SEED_DIR)
    line_counts = load_sources(SEED_DIR)
    call_ids = {row["identifier"] for row in _calls()}
    for model in (Organisation, Need, Company):
        for row in session.exec(select(model)).all():
            assert check_citation(row.source_ref, line_counts, call_ids) is None, (model.__name__, row.slug)


def test_citations_are_parsed_and_checked():
    assert parse_citation("002:747-773, 884; 004:54") == [
        LineCitation("002", 747, 773), LineCitation("002", 884, 884), LineCitation("004", 54, 54),
    ]
    counts = {"002": 1268}
    assert check_citation("002:1268", counts) is None
    assert "1268 lines" in check_citation("002:1269", counts)
    assert "does not list" in check_citation("009:1", counts)
    assert check_citation("", counts) == "has no source citation"
    with pytest.raises(ValueError):
        parse_citation("002 lines 3-4")


def test_seed_companies_hold_no_kvk_or_contact_details(session: Session):
    for record in _yaml(SEED_DIR / "companies.yaml"):
        assert not {"kvk_number", "contact_email", "contact_phone", "contact_name", "website"} & set(record)
    load_seed(session, SEED_DIR)
    for company in session.exec(select(Company)).all():
        assert company.kvk_number is None and company.contact_email is None and company.contact_phone is None


def test_demo_companies_load_only_when_asked(session: Session):
    load_seed(session, SEED_DIR)
    assert not session.exec(select(Company).where(Company.name.contains("(demo)"))).all()
    report = load_seed(session, SEED_DIR, demo=True)
    demo = session.exec(select(Company).where(Company.kvk_number.is_not(None))).all()
    assert 25 <= len(demo) <= 40 and report.counts["demo_company"].created == len(demo)
    for company in demo:
        assert company.name.endswith("(demo)") and "Fictief voorbeeldbedrijf" in company.description
        assert 90000000 <= int(company.kvk_number) <= 90000099
        assert company.contact_email.endswith("@example.org")
        assert get_taxonomy().municipality(company.municipality).province == "Drenthe"
    assert (report.counts["company"].created, report.counts["company"].updated) == (0, 0)


def test_a_corrected_record_updates(session: Session, tmp_path: Path):
    seed_dir = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seed_dir)
    load_seed(session, seed_dir)
    path = seed_dir / "needs" / "defence_needs.yaml"
    records = _yaml(path)
    records[0]["description"] += " Gecorrigeerd."
    records[0]["sectors"] = ["logistiek"]
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), encoding="utf-8")
    report = load_seed(session, seed_dir)
    assert (report.created, report.updated) == (0, 1)
    assert report.counts["defence_need"].updated == 1
    need = session.exec(select(Need).where(Need.slug == records[0]["slug"])).one()
    assert "inspelen. Gecorrigeerd." in need.description and need.sectors == ["logistiek"]


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("needs/clusters.yaml", {"nld_areas": ["onzin"]}, "unknown nld_areas 'onzin'"),
        ("needs/programmes.yaml", {"sectors": ["bakkerij"]}, "unknown sectors 'bakkerij'"),
        ("needs/programmes.yaml", {"owner": "niemand"}, "unknown owner 'niemand'"),
        ("companies.yaml", {"municipality": "Atlantis"}, "unknown municipality 'Atlantis'"),
        ("companies.yaml", {"kvk_number": "12345678"}, "unknown field(s) kvk_number"),
        ("needs/defence_needs.yaml", {"slug": "cluster-konnect"}, "duplicate slug 'cluster-konnect'"),
        ("organisations.yaml", {"source": "002:99999"}, "document 002 has"),
    ],
)
def test_invalid_files_are_refused_and_nothing_is_written(
    session: Session, tmp_path: Path, file, change, message
):
    seed_dir = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seed_dir)
    path = seed_dir / file
    records = _yaml(path)
    records[1].update(change)
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(SeedError) as raised:
        load_seed(session, seed_dir)
    assert message in raised.value.detail and f"{file}, record 2" in raised.value.detail
    assert _count(session, Need) == _count(session, Company) == _count(session, Organisation) == 0


def test_municipality_list_is_complete_for_its_date():
    listing = json.loads((DATA_DIR / "municipalities.json").read_text(encoding="utf-8"))
    assert listing["as_of"] == "2025-01-01"
    names = [m["name"] for m in listing["municipalities"]]
    assert len(names) == len(set(names)) == 342
    per_province = Counter(m["province"] for m in listing["municipalities"])
    assert per_province == {
        "Groningen": 10, "Fryslân": 18, "Drenthe": 12, "Overijssel": 25, "Flevoland": 6, "Gelderland": 51,
        "Utrecht": 26, "Noord-Holland": 44, "Zuid-Holland": 50, "Zeeland": 13, "Noord-Brabant": 56,
        "Limburg": 31,
    }
    drenthe = sorted(m["name"] for m in listing["municipalities"] if m["province"] == "Drenthe")
    assert drenthe == [
        "Aa en Hunze", "Assen", "Borger-Odoorn", "Coevorden", "De Wolden", "Emmen", "Hoogeveen", "Meppel",
        "Midden-Drenthe", "Noordenveld", "Tynaarlo", "Westerveld",
    ]


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()  # OCR: é/ë, curly quotes
    text = re.sub(r"[\"'`]", "", text)
    text = re.sub(r"-\s+", "-", text)  # words hyphenated across lines
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    return re.sub(r"\s+", " ", text).lower().strip()


def test_quotations_appear_in_the_cited_lines():
    documents = yaml.safe_load((SEED_DIR / "sources.yaml").read_text(encoding="utf-8"))["documents"]
    lines = {prefix: (SOURCES / doc["file"]).read_text(encoding="utf-8").splitlines()
             for prefix, doc in documents.items()}
    checked = 0
    for where, record in _seed_records():
        citations = parse_citation(record["source"])
        cited = _normalised(" ".join(" ".join(lines[c.prefix][c.first - 1:c.last]) for c in citations))
        for quotation in re.findall(r'"([^"]+)"', record["description"]):
            for piece in re.split(r"\[\.\.\.\]|\[|\]", quotation):
                piece = _normalised(piece).strip(" .,;")
                if len(piece) >= 12:
                    checked += 1
                    assert piece in cited, f"{where} ({record['slug']}): {piece!r} not in {record['source']}"
    assert checked > 150


def _sourced_entries(node: object) -> list[dict]:
    """Every mapping in a YAML tree that cites a source, however deep."""
    if isinstance(node, dict):
        found = [node] if "source" in node else []
        return found + [entry for value in node.values() for entry in _sourced_entries(value)]
    if isinstance(node, list):
        return [entry for value in node for entry in _sourced_entries(value)]
    return []


def test_the_loket_s_quotations_appear_in_the_cited_lines():
    """Who helps, why, and the targets the desk reports on: what the loket quotes is in its sources."""
    documents = yaml.safe_load((SEED_DIR / "sources.yaml").read_text(encoding="utf-8"))["documents"]
    lines = {prefix: (SOURCES / doc["file"]).read_text(encoding="utf-8").splitlines()
             for prefix, doc in documents.items()}
    checked = 0
    for entry in _sourced_entries(yaml.safe_load((SEED_DIR / "loket.yaml").read_text(encoding="utf-8"))):
        citations = parse_citation(str(entry["source"]))
        cited = _normalised(" ".join(" ".join(lines[c.prefix][c.first - 1:c.last]) for c in citations))
        said = " ".join(value for key, value in entry.items() if key != "source" and isinstance(value, str))
        for quotation in re.findall(r'"([^"]+)"', said):
            for piece in re.split(r"\[\.\.\.\]|\[|\]|…", quotation):
                piece = _normalised(piece).strip(" .,;")
                if len(piece) >= 12:
                    checked += 1
                    where = entry.get("organisation") or entry.get("need") or entry
                    assert piece in cited, f"loket.yaml ({where}): {piece!r} not in {entry['source']}"
    assert checked > 10
