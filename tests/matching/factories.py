"""Documents and engines shared by the matching tests."""

from app.matching.encoders import HashingEncoder
from app.matching.engine import Document, MatchEngine

COMPANIES = [
    Document(
        "company",
        1,
        "Wij bouwen drones voor inspectie van dijken, met camera's en lidar voor autonome navigatie.",
        ("IS", "SE"),
        ("maakindustrie",),
    ),
    Document(
        "company",
        2,
        "Wij maken kogelwerende vesten en ballistische panelen van aramide voor politie en defensie.",
        ("SM",),
        ("maakindustrie",),
    ),
    Document(
        "company",
        3,
        "Wij leveren actieve gehoorbescherming en communicatieheadsets voor lawaaiige werkplekken.",
        ("SE",),
        (),
    ),
    Document(
        "company",
        4,
        "Wij telen biologische groenten en verkopen die op de markt in Assen.",
        (),
        ("agrifood",),
    ),
]
NEEDS = [
    Document(
        "need", 101, "Defensie zoekt drones die zelfstandig navigeren voor inspectie van terreinen.", ("IS",)
    ),
    Document("need", 102, "Gezocht: kogelwerende vesten en beschermende kleding voor militairen.", ("SM",)),
    Document(
        "need",
        103,
        "Gehoorbescherming voor soldaten op de schietbaan, met communicatie via headsets.",
        ("SE",),
    ),
]


def make_engine(data_dir, dense=None, multilingual=None, **kwargs):
    return MatchEngine(
        data_dir,
        dense or HashingEncoder(64, name="hash-dense"),
        multilingual or HashingEncoder(48, name="hash-multi"),
        **kwargs,
    )
