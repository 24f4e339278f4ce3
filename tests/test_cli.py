"""The command line: users, bulk import, edit tokens, weekly-list argument checks."""

from sqlmodel import select
from typer.testing import CliRunner

from app.cli import app
from app.models import Company

runner = CliRunner()

CSV_HEADER = "name;kvk_number;municipality;description;contact_email;consent;sectors;nld_areas\n"


def test_users_create_prints_a_working_token_last(client):
    result = runner.invoke(app, ["users", "create", "mindbase-piet", "--role", "scout"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "scout"
    again = runner.invoke(app, ["users", "create", "mindbase-piet", "--role", "scout"])
    assert again.exit_code == 1 and "already exists" in again.output
    unknown_org = runner.invoke(app, ["users", "create", "x", "--role", "adviser", "--org", "nergens"])
    assert unknown_org.exit_code == 1 and "nergens" in unknown_org.output


def test_import_writes_nothing_when_a_record_is_invalid(tmp_path, session):
    file = tmp_path / "bedrijven.csv"
    file.write_text(CSV_HEADER
                    + "Alfa Metaal;20000001;Emmen;Plaatbewerking en lassen van staalconstructies.;"
                    + "a@alfa.example.org;ja;maakindustrie;\n"
                    + "Beta Sensor;2000;Atlantis;Sensoren.;geen-mail;nee;;telepathie\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(file), "--no-index"])
    assert result.exit_code == 1
    for expected in ("line 3: kvk_number", "line 3: municipality", "line 3: contact_email", "line 3: consent",
                     "line 3: description", "nothing imported"):
        assert expected in result.output, result.output
    assert session.exec(select(Company)).all() == []


def test_import_csv_and_jsonl(tmp_path, session):
    csv_file = tmp_path / "bedrijven.csv"
    csv_file.write_text(CSV_HEADER
                        + "Alfa Metaal;20000001;Emmen;Plaatbewerking en lassen van staalconstructies.;"
                        + "a@alfa.example.org;ja;maakindustrie;slimme-materialen|sensoren\n",
                        encoding="utf-8")
    assert runner.invoke(app, ["import", str(csv_file), "--no-index"]).exit_code == 0
    jsonl = tmp_path / "bedrijven.jsonl"
    jsonl.write_text('{"name": "Gamma Drones", "kvk_number": "20000002", "municipality": "Assen", '
                     '"description": "Inspectiedrones met warmtebeeld.", "contact_email": "g@gamma.example.org", '
                     '"consent": true}\n', encoding="utf-8")
    assert runner.invoke(app, ["import", str(jsonl), "--no-index"]).exit_code == 0
    companies = {c.name: c for c in session.exec(select(Company)).all()}
    assert companies["Alfa Metaal"].nld_areas == ["slimme-materialen", "sensoren"]
    assert companies["Gamma Drones"].source == "adviser"
    duplicate = runner.invoke(app, ["import", str(jsonl), "--no-index"])
    assert duplicate.exit_code == 1 and "already registered" in duplicate.output


def test_edit_token_is_issued_once_and_works(tmp_path, client, session):
    jsonl = tmp_path / "een.jsonl"
    jsonl.write_text('{"name": "Delta Optiek", "kvk_number": "20000003", "municipality": "Assen", '
                     '"description": "Lenzen en optiek voor camera\'s.", "contact_email": "d@delta.example.org", '
                     '"consent": true}\n', encoding="utf-8")
    runner.invoke(app, ["import", str(jsonl), "--no-index"])
    company_id = session.exec(select(Company.id)).one()
    result = runner.invoke(app, ["companies", "edit-token", str(company_id)])
    token = result.stdout.strip().splitlines()[-1]
    response = client.get(f"/api/v1/companies/{company_id}", headers={"X-Edit-Token": token})
    assert response.status_code == 200 and response.json()["name"] == "Delta Optiek"


def test_weekly_list_refuses_a_malformed_week():
    result = runner.invoke(app, ["weekly-list", "--week", "week 48"])
    assert result.exit_code == 1 and "2026-W48" in result.output
