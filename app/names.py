"""How names compare: case- and accent-insensitively, with their whitespace normalised
("  noorderlicht  B.V." is "Noorderlicht B.V."; "Cafe" is "Café")."""

import unicodedata


def name_key(text: str) -> str:
    """Lower case, accents dropped, runs of whitespace as one space, trimmed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())
