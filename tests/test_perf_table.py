"""The performance table in docs/performance.md, generated from the benchmark's JSON (scripts/perf_table.py)."""

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "bench-small.json"


def load_perf_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("perf_table", ROOT / "scripts" / "perf_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


perf_table = load_perf_table()


@pytest.fixture
def report() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def row(table: str, scale: str, metric: str) -> list[str]:
    """The cells of the table's row for (scale, metric)."""
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[:2] == [scale, metric]:
            return cells[2:]
    raise AssertionError(f"no row {scale} / {metric} in\n{table}")


# (scale, metric) → the cells value, target, met, as the fixture's numbers give them.
EXPECTED_ROWS = [
    ("1,000", "need → companies, first ask: p50 / p95 / p99 (ms)", ["1.1 / 2.2 / 3.3", "", ""]),
    ("1,000", "need → companies, first ask: recall@10 against the anchor", ["0.988", "≥ 0.98", "yes"]),
    ("1,000", "company → needs, first ask: recall@10 against the anchor", ["0.970", "≥ 0.98", "no"]),
    ("100,000", "need → companies, first ask: p50 / p95 / p99 (ms)", ["13.8 / 42.7 / 59.5", "p99 ≤ 5", "no"]),
    ("100,000", "company → needs, first ask: p50 / p95 / p99 (ms)", ["2.7 / 3.3 / 4.2", "p99 ≤ 5", "yes"]),
    ("1,000", "need → companies, precomputed, 5 writes in the delta: p50 / p95 / p99 (ms)",
     ["0.81 / 1.21 / 1.41", "", ""]),
    ("100,000", "free text, query encoding included: p50 / p95 (ms)", ["70.0 / 80.0", "p50 ≤ 60", "no"]),
    ("100,000", "search while another thread writes: p50 / p99 (ms), errors", ["55.0 / 196.2, 1", "0 errors", "no"]),
    ("100,000", "weekly list (s)", ["42.6", "≤ 60 at 50k", "yes"]),
    ("100,000", "need → companies right after the merge: p50 / p95 / p99 (ms); recall@10",
     ["1.17 / 1.85 / 2.44; 0.987", "p99 ≤ 5, ≥ 0.98", "yes"]),
    ("1,000", "HTTP GET /needs/{id}/matches: requests/s (one worker, 16 connections)", ["355", "≥ 300", "yes"]),
    ("1,000", "HTTP GET /companies/{id}/matches: requests/s (one worker, 16 connections)", ["112", "≥ 300", "no"]),
    ("1,000", "HTTP GET /needs/{id}/matches: p50 / p99 (ms), errors", ["44.0 / 119.0, 0", "p99 ≤ 50, 0 errors", "no"]),
    ("1,000", "need → companies, first ask against the exhaustive anchor, the same queries: p50 / p99 (ms)",
     ["1.1 vs 4.4 / 3.3 vs 6.6", "no slower", "yes"]),
    ("100,000", "company → needs, first ask against the exhaustive anchor, the same queries: p50 / p99 (ms)",
     ["2.7 vs 19.0 / 4.2 vs 21.0", "no slower", "yes"]),
    ("100,000", "during the merge, a company's edit (upsert): p50 / p99 (ms), 3 edits",
     ["58.0 / 104.0", "p99 ≤ 100", "no"]),
    ("1,000", "HTTP GET /needs/{id}/matches: requests/s with 1 / 2 workers; scaling factor",
     ["355 / 604; ×1.70", "", ""]),
    ("1,000", "HTTP GET /companies/{id}/matches: p50 / p99 (ms) per number of workers",
     ["1: 120.0 / 300.0; 2: 80.0 / 190.0", "", ""]),
    ("1,000", "mixed load, 50 clients, 1500 requests (55 % writes): p50 / p99 (ms), errors (5xx, connection, "
     "lost writes)", ["90 / 420, 0", "p99 ≤ 500, 0 errors", "yes"]),
    ("ingest", "through the engine, real encoders (profiles/s, 1022 characters)", ["55.8", "≥ 30", "yes"]),
]


@pytest.mark.parametrize(("scale", "metric", "cells"), EXPECTED_ROWS)
def test_each_measurement_is_a_row_with_its_target_and_whether_it_is_met(report, scale, metric, cells):
    assert row(perf_table.table(report), scale, metric) == cells


ANCHOR_ROW = "need → companies, first ask against the exhaustive anchor, the same queries: p50 / p99 (ms)"


def test_a_first_ask_slower_than_the_exhaustive_scan_is_not_met(report):
    report["scales"][0]["need_to_companies"]["p99"] = 7.0  # the anchor's p99 is 6.6

    assert row(perf_table.table(report), "1,000", ANCHOR_ROW)[-1] == "no"


def test_the_anchor_is_compared_with_the_first_asks_of_its_own_queries_where_they_were_timed_beside_it(report):
    directions = report["scales"][0]["need_to_companies"]
    directions["p99"] = 7.0  # every query's first asks: slower than the anchor's 6.6
    directions["first_ask_beside_anchor"] = {"p50": 4.0, "p95": 5.0, "p99": 6.0}

    assert row(perf_table.table(report), "1,000", ANCHOR_ROW) == ["4.0 vs 4.4 / 6.0 vs 6.6", "no slower", "yes"]


def test_errors_under_the_mixed_load_are_not_met_whatever_the_latency(report):
    report["scales"][0]["http"]["mixed_load"]["lost_writes"] = 1
    report["scales"][0]["http"]["mixed_load"]["errors"] = 1

    assert row(perf_table.table(report), "1,000", "mixed load, 50 clients, 1500 requests (55 % writes): "
               "p50 / p99 (ms), errors (5xx, connection, lost writes)") == ["90 / 420, 1", "p99 ≤ 500, 0 errors", "no"]


def test_an_endpoint_that_finished_no_request_is_not_met(report):
    http = report["scales"][0]["http"]
    http["need_matches_rps"] = 0.0
    http["need_matches_latency"] = {"p50": 0.0, "p99": 0.0, "mean": 0.0}

    assert row(perf_table.table(report), "1,000", "HTTP GET /needs/{id}/matches: p50 / p99 (ms), errors")[-1] == "no"


def test_one_number_of_workers_has_no_scaling_row(report):
    del report["scales"][0]["http"]["by_workers"]["2"]

    with pytest.raises(AssertionError):
        row(perf_table.table(report), "1,000", "HTTP GET /needs/{id}/matches: requests/s with 1 / 2 workers; "
            "scaling factor")


def test_a_scale_without_a_measurement_has_no_row_for_it(report):
    table = perf_table.table(report)

    assert "during the merge" in table  # measured at 100,000
    with pytest.raises(AssertionError):
        row(table, "1,000", "during the merge: errors")  # skipped at 1,000: every write merges there
    with pytest.raises(AssertionError):
        row(table, "100,000", "HTTP GET /needs/{id}/matches: p50 / p99 (ms), errors")


def test_the_table_says_when_where_and_how_it_was_measured(report):
    text = perf_table.render(report)

    first_line = text.splitlines()[0]
    assert "2030-01-02 03:04:05" in first_line and "2030-01-02 04:05:06" in first_line
    assert "2 CPUs" in first_line and "load average 1.3 at the start and 4.6 at the end" in first_line
    assert "quick run at 1,000 and 100,000 companies and 2,000 needs" in first_line
    assert "wrk" in first_line


def test_two_vector_stores_are_two_value_columns(report):
    pgvector = copy.deepcopy(report["scales"][0])
    pgvector["vector_store"] = "pgvector"
    pgvector["need_to_companies"]["p99"] = 9.99
    report["scales"] = [report["scales"][0], pgvector]

    table = perf_table.table(report)

    assert table.splitlines()[0] == "| scale | metric | faiss | pgvector | target | met |"
    assert row(table, "1,000", "need → companies, first ask: p50 / p95 / p99 (ms)")[:2] == [
        "1.1 / 2.2 / 3.3", "1.1 / 2.2 / 10.0"]


def test_the_document_gets_the_table_between_its_markers_and_keeps_the_rest(tmp_path, report):
    document = tmp_path / "performance.md"
    document.write_text(f"# Before\n\n{perf_table.START}\nold table\n{perf_table.END}\n\n## After\n", encoding="utf-8")

    perf_table.update_document(document, report)
    once = document.read_text(encoding="utf-8")
    perf_table.update_document(document, report)

    assert "old table" not in once
    assert once.startswith("# Before\n") and once.endswith("## After\n")
    assert perf_table.table(report) in once
    assert document.read_text(encoding="utf-8") == once  # a second run changes nothing


def test_a_document_without_markers_is_left_alone_and_refused(tmp_path, report):
    document = tmp_path / "performance.md"
    document.write_text("# No markers here\n", encoding="utf-8")

    with pytest.raises(ValueError, match="no table markers"):
        perf_table.update_document(document, report)
    assert document.read_text(encoding="utf-8") == "# No markers here\n"


def test_the_command_writes_the_table_of_a_results_file(tmp_path, report):
    document = tmp_path / "performance.md"
    document.write_text(f"{perf_table.START}\n{perf_table.END}\n", encoding="utf-8")

    assert perf_table.main([str(FIXTURE), "--document", str(document)]) == 0
    assert "| 100,000 | weekly list (s) | 42.6 |" in document.read_text(encoding="utf-8")


def test_the_performance_document_has_one_pair_of_markers():
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")

    assert text.count(perf_table.START) == 1 and text.count(perf_table.END) == 1
    assert text.index(perf_table.START) < text.index(perf_table.END)


def test_a_first_ask_that_scores_the_whole_side_is_the_anchor_itself(report):
    directions = report["scales"][0]["need_to_companies"]
    directions["first_ask_beside_anchor"] = {"p50": 4.5, "p95": 5.0, "p99": 6.0}  # noise: 4.5 against 4.4
    directions["scored_whole"] = True

    assert row(perf_table.table(report), "1,000", ANCHOR_ROW) == [
        "4.5 vs 4.4 / 6.0 vs 6.6 (one computation: the side is scored whole)", "no slower", "yes"]
