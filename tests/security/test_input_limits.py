"""Input limits: odd or oversized input gets a 4xx that says what to fix, never a 500."""

import pytest

from tests.factories import bearer, need_payload

HUGE_ID = 2**63  # beyond every database integer


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/companies/{HUGE_ID}"),
        ("PATCH", f"/api/v1/companies/{HUGE_ID}"),
        ("DELETE", f"/api/v1/companies/{HUGE_ID}"),
        ("GET", f"/api/v1/needs/{HUGE_ID}"),
        ("PATCH", f"/api/v1/needs/{HUGE_ID}"),
        ("DELETE", f"/api/v1/needs/{HUGE_ID}"),
        ("GET", "/api/v1/needs/2147483648"),
        ("GET", "/api/v1/companies/0"),
    ],
)
def test_ids_outside_the_database_range_are_refused_not_crashed(client, staff_tokens, method, path):
    response = client.request(
        method, path, headers=bearer(staff_tokens["admin"]), json={} if method == "PATCH" else None
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "path"


def test_owner_organisation_id_outside_the_database_range_is_refused(client, staff_tokens):
    response = client.post(
        "/api/v1/needs",
        json=need_payload(owner_organisation_id=HUGE_ID),
        headers=bearer(staff_tokens["admin"]),
    )
    assert response.status_code == 422, response.text
    assert "owner_organisation_id" in response.json()["detail"][0]["loc"]


def test_timestamps_carry_their_utc_offset_after_a_round_trip_through_the_database(client, staff_tokens):
    """RFC 3339 (the OpenAPI date-time format) needs an offset; SQLite returns datetimes without one."""
    from datetime import datetime

    from tests.factories import company_payload

    admin = bearer(staff_tokens["admin"])
    company = client.post("/api/v1/companies", json=company_payload(), headers=admin).json()
    need = client.post("/api/v1/needs", json=need_payload(), headers=admin).json()
    for answer in (
        client.get(f"/api/v1/companies/{company['id']}", headers=admin).json(),
        client.get(f"/api/v1/needs/{need['id']}", headers=admin).json(),
    ):
        for field in ("created_at", "updated_at"):
            assert datetime.fromisoformat(answer[field]).utcoffset() is not None, answer[field]


@pytest.mark.parametrize(
    "field",
    [
        "defence_experience",
        "consent_matching",
        "consent_defence_contact",
        "sectors",
        "nld_areas",
        "capabilities",
        "status",
        "name",
        "description",
    ],
)
def test_patching_a_required_field_to_null_is_refused_not_crashed(client, staff_tokens, field):
    from tests.factories import company_payload

    admin = bearer(staff_tokens["admin"])
    company = client.post("/api/v1/companies", json=company_payload(), headers=admin).json()
    response = client.patch(f"/api/v1/companies/{company['id']}", json={field: None}, headers=admin)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


@pytest.mark.parametrize("field", ["nld_areas", "sectors", "eligible_regions", "title", "kind", "visibility"])
def test_patching_a_need_list_or_required_field_to_null_is_refused_not_crashed(client, staff_tokens, field):
    admin = bearer(staff_tokens["admin"])
    need = client.post("/api/v1/needs", json=need_payload(), headers=admin).json()
    response = client.patch(f"/api/v1/needs/{need['id']}", json={field: None}, headers=admin)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


def _max_length(field_info) -> int | None:
    import annotated_types

    found = []
    for meta in field_info.metadata:
        found.append(getattr(meta, "max_length", None))
    annotation = field_info.annotation
    for arg in getattr(annotation, "__args__", ()) or ():  # X | None
        for meta in getattr(arg, "__metadata__", ()):
            found.append(getattr(meta, "max_length", None))
            if isinstance(meta, annotated_types.MaxLen):
                found.append(meta.max_length)
    lengths = [n for n in found if n is not None]
    return min(lengths) if lengths else None


BOUNDED_BY_VALIDATOR = {"kvk_number"}  # check_kvk: exactly 8 digits


def _is_choice(annotation) -> bool:
    """An enum or Literal (optionally with None): its longest value fits by construction."""
    import enum
    import typing

    options = [a for a in (typing.get_args(annotation) or (annotation,)) if a is not type(None)]
    return bool(options) and all(
        typing.get_origin(a) is typing.Literal or (isinstance(a, type) and issubclass(a, enum.Enum))
        for a in options
    )


@pytest.mark.parametrize(
    ("schema_name", "table_name"),
    [
        ("CompanyCreate", "company"),
        ("CompanyUpdate", "company"),
        ("NeedCreate", "need"),
        ("NeedUpdate", "need"),
    ],
)
def test_no_accepted_text_is_longer_than_its_database_column(schema_name, table_name):
    """PostgreSQL refuses (500) what SQLite silently stores: the API must cap text at the column's length."""
    from app import schemas
    from app.models import metadata

    table = metadata.tables[table_name]
    too_long = []
    for name, field_info in getattr(schemas, schema_name).model_fields.items():
        column = table.columns.get(name)
        column_length = getattr(getattr(column, "type", None), "length", None)
        if column_length is None:
            continue
        if name in BOUNDED_BY_VALIDATOR or _is_choice(field_info.annotation):
            continue
        accepted = _max_length(field_info)
        if accepted is None or accepted > column_length:
            too_long.append(f"{name}: accepts {accepted}, column holds {column_length}")
    assert not too_long, too_long


def test_a_website_at_the_column_limit_is_stored_and_one_beyond_is_refused(client, staff_tokens):
    from tests.factories import company_payload

    admin = bearer(staff_tokens["admin"])
    at_limit = "https://example.org/" + "a" * (500 - len("https://example.org/"))
    assert (
        client.post("/api/v1/companies", json=company_payload(website=at_limit), headers=admin).status_code
        == 201
    )
    beyond = client.post("/api/v1/companies", json=company_payload(website=at_limit + "a"), headers=admin)
    assert beyond.status_code == 422 and beyond.json()["detail"][0]["loc"][-1] == "website"


# --- body size ---------------------------------------------------------------------------------


def _chunks(total_bytes: int):
    """A JSON body sent in chunks, without Content-Length (Transfer-Encoding: chunked)."""
    yield b'{"name": "Chunked BV", "description": "'
    for _ in range(total_bytes // 10_000):
        yield b"a" * 10_000
    yield b'"}'


def test_a_body_over_the_cap_gets_413_with_or_without_content_length(client, session):
    from app.models import Company

    declared = client.post(
        "/api/v1/companies", content=b"x" * 1_000_001, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413 and "at most 1000000 bytes" in declared.json()["detail"]
    chunked = client.post(
        "/api/v1/companies", content=_chunks(3_000_000), headers={"content-type": "application/json"}
    )
    assert chunked.request.headers.get("content-length") is None
    assert chunked.status_code == 413, chunked.text[:200]
    assert chunked.headers["X-Content-Type-Options"] == "nosniff"
    assert session.query(Company).count() == 0


def test_a_chunked_body_under_the_cap_is_processed(client):
    from tests.factories import company_payload

    body = __import__("json").dumps(company_payload()).encode()
    response = client.post(
        "/api/v1/companies",
        content=iter([body[:50], body[50:]]),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 202, response.text


# --- odd text is stored and returned verbatim -----------------------------------------------------

ODD_TEXTS = [
    "Ĳsselmeer — 🛰️ Zoë",
    "<script>alert(1)</script>",
    "'; DROP TABLE company; --",
    'Robert"); DELETE FROM need WHERE ("1"="1',
    "%_\\ LIKE-tekens 100% zeker",
]


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_odd_text_is_stored_and_returned_verbatim(client, staff_tokens, text):
    from tests.factories import company_payload

    admin = bearer(staff_tokens["admin"])
    description = f"Wij maken {text} voor de krijgsmacht."
    registered = client.post(
        "/api/v1/companies",
        json=company_payload(name=text, description=description, contact_name=text, capabilities=[text]),
        headers=admin,
    )
    assert registered.status_code == 201, registered.text
    company = client.get(f"/api/v1/companies/{registered.json()['id']}", headers=admin).json()
    assert (company["name"], company["description"], company["contact"]["name"], company["capabilities"]) == (
        text,
        description,
        text,
        [text],
    )
    need = client.post("/api/v1/needs", json=need_payload(title=text, description=description), headers=admin)
    assert need.status_code == 201 and need.json()["title"] == text
    # Searching for the text finds exactly these records (no LIKE wildcard or SQL injection effect).
    found = client.get("/api/v1/companies", params={"q": text}, headers=admin).json()
    assert [c["id"] for c in found["data"]] == [company["id"]]
    assert client.get("/api/v1/needs", params={"q": text}).json()["count"] == 1
    assert client.get("/api/v1/companies", params={"q": "100%"}, headers=admin).json()["count"] == (
        1 if "100%" in text else 0
    )


# --- caps on text, lists and paging ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "x" * 201),
        ("description", "x" * 10_001),
        ("contact_name", "x" * 201),
        ("capabilities", ["x" * 101]),
        ("capabilities", [f"c{n}" for n in range(31)]),
        ("sectors", ["maakindustrie"] * 21),
        ("nld_areas", ["sensoren"] * 6),
        ("contact_phone", "1" * 41),
    ],
)
def test_oversized_company_fields_are_refused_with_the_field_named(client, field, value):
    from tests.factories import company_payload

    response = client.post("/api/v1/companies", json=company_payload(**{field: value}))
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "x" * 301), ("description", "x" * 50_001), ("eligible_regions", ["Drenthe"] * 51)],
)
def test_oversized_need_fields_are_refused(client, staff_tokens, field, value):
    response = client.post(
        "/api/v1/needs", json=need_payload(**{field: value}), headers=bearer(staff_tokens["admin"])
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("path", ["/api/v1/companies", "/api/v1/needs"])
@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 200}, 200),
        ({"limit": 201}, 422),
        ({"limit": 0}, 422),
        ({"offset": -1}, 422),
        ({"offset": 1_000_001}, 422),
        ({"q": "x" * 201}, 422),
    ],
)
def test_paging_and_query_limits(client, staff_tokens, path, params, status):
    response = client.get(path, params=params, headers=bearer(staff_tokens["adviser"]))
    assert response.status_code == status, response.text


@pytest.mark.parametrize("wildcard", ["%", "_", "\\"])
def test_like_wildcards_in_search_text_match_themselves_only(client, staff_tokens, wildcard):
    from tests.factories import company_payload

    admin = bearer(staff_tokens["admin"])
    client.post("/api/v1/companies", json=company_payload(name="Gewoon Bedrijf"))
    client.post("/api/v1/needs", json=need_payload(title="Gewone vraag"), headers=admin)
    assert client.get("/api/v1/companies", params={"q": wildcard}, headers=admin).json()["count"] == 0
    assert client.get("/api/v1/needs", params={"q": wildcard}).json()["count"] == 0


def test_every_integer_path_parameter_is_bounded_to_the_database_id_range():
    """An unbounded id reaches the driver and overflows (500); bound it like ``app.deps.CompanyId``."""
    from app.main import create_app
    from app.schemas import MAX_ID

    unbounded = []
    for path, operations in create_app().openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                is_id = parameter["in"] == "path" and schema.get("type") == "integer"
                if is_id and (schema.get("maximum", float("inf")) > MAX_ID or schema.get("minimum", -1) < 1):
                    unbounded.append(f"{method.upper()} {path}: {parameter['name']}")
    assert not unbounded, (
        f"path ids without the 1..{MAX_ID} bounds (use CompanyId / NeedId from app.deps): {unbounded}"
    )


def test_owner_id_beyond_32_bits_is_refused_not_a_server_error(client, world):
    admin = world.headers("admin")
    url = f"/api/v1/matches/{world.companies['own']['id']}/{world.needs['staff']['id']}"
    response = client.patch(url, json={"owner_user_id": 2**31}, headers=admin)
    assert response.status_code == 422
