"""The province's KPIs per month against their targets, and their export for Dutch Excel."""

import csv
import io
from collections.abc import Iterator
from datetime import date

import openpyxl
import pytest
from fastapi.testclient import TestClient

from tests.factories import bearer, create_need, make_user, register_company
from tests.loket_fixtures import question, seeded_client

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")


@pytest.fixture
def loket(tmp_path) -> Iterator[TestClient]:
    yield from seeded_client(tmp_path / "matching")


def a_month_of_work(client: TestClient, session) -> str:
    """Two trajectories (one voucher granted, one referred to MINDbase Noord) and one introduction
    for a defence need that led to a meeting; returns the adviser's token."""
    adviser, token = make_user(session, role="adviser")
    headers = bearer(token)
    for text in ("Wij zoeken kennis over circulaire kunststoffen voor onze producten.",
                 "Wij willen onze nachtzichtcamera's aan Defensie leveren."):
        reference = client.post("/api/v1/questions", json=question(text=text)).json()["reference"]
        case = next(c for c in client.get("/api/v1/cases", headers=headers).json()["data"]
                    if c["reference"] == reference)
        client.patch(f"/api/v1/cases/{case['id']}", headers=headers, json={"assigned_user_id": adviser.id})
        if "circulaire" in text:
            voucher = client.get("/api/v1/needs", params={"kind": "programme", "q": "MKB Advies Vouchers"}).json()
            client.post(f"/api/v1/cases/{case['id']}/programmes", headers=headers,
                        json={"need_id": voucher["data"][0]["id"], "status": "granted"})
        else:
            client.post(f"/api/v1/cases/{case['id']}/referrals", headers=headers,
                        json={"organisation": "mindbase-noord"})
    company = register_company(client, name="Noordlicht Optiek")
    need = create_need(client, token, title="Nachtzicht", description="Nachtzichtapparatuur voor voertuigen.")
    pair = f"/api/v1/matches/{company['id']}/{need['id']}"
    client.patch(pair, headers=headers, json={"status": "intro_proposed"})
    client.post(f"/api/v1/companies/{company['id']}/introductions/{need['id']}/consent",
                headers={"X-Edit-Token": company["edit_token"]})
    for step in ("introduced", "meeting"):
        assert client.patch(pair, headers=headers, json={"status": step}).status_code == 200
    return token


def test_the_dashboard_reports_each_kpi_per_month_against_its_target(loket, session):
    token = a_month_of_work(loket, session)
    today = date.today()
    report = loket.get("/api/v1/kpis", params={"year": today.year}, headers=bearer(token)).json()
    assert report["targets"]["trajectories"]["per_year"] == 550
    assert report["targets"]["advice_vouchers"]["per_year"] == 100
    assert report["targets"]["defence_helped"]["per_year"] is None
    month = report["months"][today.month - 1]
    assert month["month"] == f"{today.year}-{today.month:02d}"
    assert (month["trajectories"], month["advice_vouchers"], month["defence_helped"], month["introductions"]) == (
        2, 1, 2, 1)
    assert month["introduction_outcomes"]["meeting"] == 1 and month["introduction_outcomes"]["introduced"] == 0
    assert report["totals"]["trajectories"] == 2
    others = [m for m in report["months"] if m["month"] != month["month"]]
    assert all(m["trajectories"] == 0 and m["introductions"] == 0 for m in others)
    assert loket.get("/api/v1/kpis", params={"year": today.year - 1}, headers=bearer(token)).json()["totals"][
        "trajectories"] == 0
    assert loket.get("/api/v1/kpis", params={"year": today.year}).status_code == 401
    assert loket.get("/api/v1/kpis", params={"year": 1900}, headers=bearer(token)).status_code == 422


def test_the_kpi_export_opens_in_dutch_excel_with_dutch_headers(loket, session):
    token = a_month_of_work(loket, session)
    today = date.today()
    url = "/api/v1/kpis/export"
    exported = loket.get(url, params={"year": today.year, "format": "csv"}, headers=bearer(token))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    assert header[:3] == ["Maand", "IBDO-trajecten", "IBDO-trajecten t/m maand"]
    assert "Streefwaarde t/m maand (jaardoel 550)" in header and "Bedrijven met MKB Advies Voucher" in header
    assert "Bedrijven geholpen richting Defensie" in header and "Introducties: gesprek" in header
    assert len(rows) == 1 + 12 + 1
    this_month = dict(zip(header, rows[today.month], strict=True))
    assert this_month["Maand"] == f"{MONTHS[today.month - 1]} {today.year}"
    assert this_month["IBDO-trajecten"] == "2" and this_month["Introducties: gesprek"] == "1"
    assert rows[-1][0] == f"totaal {today.year}" and dict(zip(header, rows[-1], strict=True))[
        "Streefwaarde t/m maand (jaardoel 550)"] == "550"

    workbook_bytes = loket.get(url, params={"year": today.year, "format": "xlsx"}, headers=bearer(token)).content
    sheet = openpyxl.load_workbook(io.BytesIO(workbook_bytes)).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == header
    assert values[today.month][1] == 2 and values[-1][0] == f"totaal {today.year}"
    assert all(not isinstance(cell, str) or not cell.startswith("=") for row in values for cell in row)


def test_a_cell_an_adviser_could_fill_is_never_a_formula():
    from app.services.spreadsheets import Column, as_csv

    exported = as_csv([Column("maand", "Maand", 10)], [{"maand": '=HYPERLINK("http://x")'}, {"maand": "-1"}])
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig")), delimiter=";"))
    assert rows[1:] == [["'=HYPERLINK(\"http://x\")"], ["'-1"]]
