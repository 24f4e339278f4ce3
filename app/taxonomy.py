"""The fixed vocabularies: NLD areas, sectors, municipalities with their regions, need kinds.

Shipped as data in ``app/data`` and loaded once; validation and filters read them from here.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NotRequired

import yaml
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Municipality:
    name: str
    province: str
    regions: tuple[str, ...]  # Drenthe sub-regions (zero, one or two), then the province, then Noord-Nederland


class VocabularyEntry(TypedDict):
    """One NLD area, sector or need kind of app/data/taxonomy.yaml."""

    slug: str
    nl: str  # the Dutch label
    en: str  # the English label
    source: NotRequired[str]  # where the documents name it
    aliases: NotRequired[list[str]]  # other names it goes by


@dataclass(frozen=True)
class Taxonomy:
    nld_areas: tuple[VocabularyEntry, ...]
    sectors: tuple[VocabularyEntry, ...]
    need_kinds: tuple[VocabularyEntry, ...]
    municipalities: dict[str, Municipality]  # keyed by lower-cased name

    @property
    def nld_area_slugs(self) -> frozenset[str]:
        return frozenset(area["slug"] for area in self.nld_areas)

    @property
    def sector_slugs(self) -> frozenset[str]:
        return frozenset(sector["slug"] for sector in self.sectors)

    @property
    def regions(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for municipality in self.municipalities.values():
            for region in municipality.regions:
                seen.setdefault(region, None)
        return tuple(sorted(seen))

    def municipality(self, name: str) -> Municipality | None:
        return self.municipalities.get(name.strip().lower())

    def municipalities_in_region(self, region: str) -> list[str]:
        wanted = region.strip().lower()
        return sorted(
            m.name for m in self.municipalities.values() if wanted in (r.lower() for r in m.regions)
        )


NORTHERN_REGION = "Noord-Nederland"


@cache
def get_taxonomy() -> Taxonomy:
    vocab = yaml.safe_load((DATA_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))
    listing = json.loads((DATA_DIR / "municipalities.json").read_text(encoding="utf-8"))
    sub_regions_of: dict[str, list[str]] = {}
    for sub_region, names in vocab["sub_regions"].items():
        for name in names:
            sub_regions_of.setdefault(name, []).append(sub_region)
    northern = set(vocab["northern_provinces"])
    municipalities = {}
    for entry in listing["municipalities"]:
        regions = [*sub_regions_of.get(entry["name"], []), entry["province"]]
        if entry["province"] in northern:
            regions.append(NORTHERN_REGION)
        municipalities[entry["name"].lower()] = Municipality(entry["name"], entry["province"], tuple(regions))
    return Taxonomy(
        nld_areas=tuple(vocab["nld_areas"]),
        sectors=tuple(vocab["sectors"]),
        need_kinds=tuple(vocab["need_kinds"]),
        municipalities=municipalities,
    )
