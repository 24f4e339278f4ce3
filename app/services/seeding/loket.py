"""Checking the loket's rules (seed/loket.yaml) against the records the seed loads: the desks'
organisations, the programmes, and the source lines they cite."""

from pathlib import Path
from typing import Any

from app.services import loket_rules
from app.services.seeding.citations import check_citation


def check_loket_rules(
    seed_dir: Path, line_counts: dict[str, int], organisations: set[str], needs: list[dict[str, Any]],
    errors: list[str],
) -> None:
    """Adds to ``errors`` what is wrong with the loket's rules, if the folder has them."""
    if not (seed_dir / loket_rules.RULES_FILE).exists():
        return
    try:
        rules = loket_rules.read_rules(seed_dir)
    except loket_rules.RulesError as error:
        errors.append(error.detail)
        return
    programmes = {need["slug"] for need in needs if need["kind"] == "programme"}
    errors += loket_rules.problems_in(rules, organisations=organisations, programmes=programmes)
    for where, source in loket_rules.citations(rules):
        if problem := check_citation(source, line_counts):
            errors.append(f"{where}: source {problem}")
