import pytest

from .factories import COMPANIES, NEEDS, make_engine


@pytest.fixture
def engine(tmp_path):
    built = make_engine(tmp_path)
    built.upsert(COMPANIES + NEEDS)
    yield built
    built.close()
