"""Source citations: every seed record names the document lines (or the EU call) it comes from."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.services.seeding.records import CALLS_FILE, SOURCES_FILE

# "002:306-312", "002:747-773, 884; 004:54" — a document prefix, then line numbers or ranges.
_CITATION_PART = re.compile(r"^(\d{3}):\s*(\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*)$")
_CALL_CITATION = re.compile(r"^" + re.escape(CALLS_FILE) + r":\s*(\S+)$")


@dataclass(frozen=True)
class LineCitation:
    prefix: str
    first: int
    last: int


def parse_citation(text: str) -> list[LineCitation]:
    """Parse a document citation such as ``"002:747-773, 884; 004:54"``; raise ValueError if malformed."""
    citations: list[LineCitation] = []
    for part in (p.strip() for p in text.split(";")):
        match = _CITATION_PART.match(part)
        if not match:
            raise ValueError(f"citation {part!r} is not of the form '002:306-312' or '002:306-312, 400'")
        prefix, numbers = match.groups()
        for item in numbers.split(","):
            bounds = [int(n) for n in item.split("-")]
            first, last = bounds[0], bounds[-1]
            if first < 1 or last < first:
                raise ValueError(f"citation {part!r} has an empty or reversed line range {item.strip()!r}")
            citations.append(LineCitation(prefix, first, last))
    return citations


def load_sources(seed_dir: Path) -> dict[str, int]:
    """Document prefix → number of lines, from ``seed/sources.yaml``."""
    data = yaml.safe_load((seed_dir / SOURCES_FILE).read_text(encoding="utf-8")) or {}
    return {str(prefix): int(doc["lines"]) for prefix, doc in (data.get("documents") or {}).items()}


def check_citation(text: Any, line_counts: dict[str, int], call_ids: set[str] | None = None) -> str | None:
    """Return a message saying what is wrong with a ``source`` value, or None if it is sound."""
    if not isinstance(text, str) or not text.strip():
        return "has no source citation"
    call = _CALL_CITATION.match(text.strip())
    if call:
        if call_ids is not None and call.group(1) not in call_ids:
            return f"cites call {call.group(1)!r}, which is not in {CALLS_FILE}"
        return None
    try:
        citations = parse_citation(text)
    except ValueError as error:
        return str(error)
    for citation in citations:
        lines = line_counts.get(citation.prefix)
        if lines is None:
            return f"cites document {citation.prefix!r}, which {SOURCES_FILE} does not list"
        if citation.last > lines:
            return (f"cites {citation.prefix}:{citation.last}, "
                    f"but document {citation.prefix} has {lines} lines")
    return None
