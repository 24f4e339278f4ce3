"""Finding 5: a KvK number is exactly eight ASCII digits once spaces and dots are removed; full-width or
Arabic-Indic digits are refused (they also slipped past the uniqueness of an existing number)."""

import pytest

from tests.factories import bearer, company_payload


@pytest.mark.parametrize("kvk", ["１２３４５６７８", "١٢٣٤٥٦٧٨", "۱۲۳۴۵۶۷۸", "1234567８", "1234567", "123456789",
                                 "1234-5678", "1234\t5678"])
def test_anything_but_eight_ascii_digits_is_refused(client, staff_tokens, kvk):
    response = client.post("/api/v1/companies", json=company_payload(kvk_number=kvk),
                           headers=bearer(staff_tokens["adviser"]))
    assert response.status_code == 422, response.text
    assert "kvk_number" in response.text and "8 digits" in response.text


@pytest.mark.parametrize("written", ["12 34 56 78", "12.34.56.78", " 1234.5678 "])
def test_spaces_and_dots_are_removed(client, staff_tokens, written):
    response = client.post("/api/v1/companies", json=company_payload(kvk_number=written),
                           headers=bearer(staff_tokens["adviser"]))
    assert response.status_code == 201, response.text
    assert response.json()["kvk_number"] == "12345678"


def test_a_full_width_copy_of_a_registered_number_is_no_second_registration(client, staff_tokens):
    adviser = bearer(staff_tokens["adviser"])
    first = client.post("/api/v1/companies", json=company_payload(kvk_number="87654321"), headers=adviser)
    assert first.status_code == 201
    copy = client.post("/api/v1/companies", json=company_payload(kvk_number="８７６５４３２１"), headers=adviser)
    assert copy.status_code == 422
    listed = client.get("/api/v1/companies", headers=adviser).json()
    assert [c["kvk_number"] for c in listed["data"]] == ["87654321"]


def test_a_patch_is_held_to_the_same_rule(client, staff_tokens):
    adviser = bearer(staff_tokens["adviser"])
    company = client.post("/api/v1/companies", json=company_payload(), headers=adviser).json()
    response = client.patch(f"/api/v1/companies/{company['id']}", json={"kvk_number": "١٢٣٤٥٦٧٨"}, headers=adviser)
    assert response.status_code == 422
