"""The README and docs/ say what the code does: every setting, command and make target they name exists."""

import re
from pathlib import Path

import pytest
from typer.main import get_command

from app.cli import app as cli_app
from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "eval").glob("*.md"))]
HISTORY = re.compile(r"this round|rounds? before|earlier round|before this", re.IGNORECASE)


def test_the_readme_stays_short():
    assert len(README.splitlines()) <= 250


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_has_a_row_in_the_configuration_table(field):
    assert f"| `KOPPELKANS_{field.upper()}` |" in README


def test_the_configuration_table_names_only_real_settings():
    documented = set(re.findall(r"^\| `KOPPELKANS_([A-Z_]+)` \|", README, re.MULTILINE))
    assert documented == {field.upper() for field in Settings.model_fields}


def test_every_koppelkans_command_in_the_readme_exists():
    top_level = getattr(get_command(cli_app), "commands", {})
    commands = re.findall(r"^koppelkans ([a-z-]+)(?: ([a-z-]+))?", README, re.MULTILINE)
    assert commands
    for name, sub in commands:
        command = top_level.get(name)
        assert command is not None, f"README names `koppelkans {name}`, which the CLI does not have"
        subcommands = getattr(command, "commands", None)
        if sub and subcommands is not None:
            assert sub in subcommands, f"README names `koppelkans {name} {sub}`, which the CLI does not have"


def test_every_make_target_in_the_readme_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z-]+)", README))
    assert named and named <= targets, f"README names make targets the Makefile lacks: {named - targets}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_documents_speak_of_the_present(document):
    assert not HISTORY.findall(document.read_text(encoding="utf-8"))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_lead_to_files(document):
    text = document.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (document.parent / target).exists(), f"{document.name} links to {target}, which does not exist"
