"""Loading the seed data in ``seed/``: organisations, needs (defence needs, programmes, clusters, EU calls)
and companies named in the Drenthe documents, plus optional fictitious demo companies.

``load_seed`` first validates every file (taxonomy slugs, municipalities, owners, duplicate slugs, source
citations) and writes nothing if anything is wrong; then it upserts every record by its slug in one
transaction. Running it twice changes nothing; a corrected file updates the records it corrects.

One module per part: ``records`` (reading and checking fields), ``citations`` (source lines),
``organisations``, ``needs`` (YAML needs and the EU calls), ``companies`` (seed and demo companies),
``loading`` (validating everything, then writing).
"""

from app.services.seeding.citations import LineCitation, check_citation, load_sources, parse_citation
from app.services.seeding.loading import SeedReport, load_seed
from app.services.seeding.records import CALLS_FILE, SeedError

__all__ = [
    "CALLS_FILE",
    "LineCitation",
    "SeedError",
    "SeedReport",
    "check_citation",
    "load_seed",
    "load_sources",
    "parse_citation",
]
