import json

import numpy as np

from app.matching.index import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    VectorIndex,
    read_folder,
    write_folder_atomically,
)


def unit_rows(count, dim, seed=0):
    rows = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_add_search_remove_by_id():
    index = VectorIndex(8)
    vectors = unit_rows(5, 8)
    index.add(np.array([10, 20, 30, 40, 50]), vectors)
    scores, ids = index.search(vectors[2:3], k=1)
    assert ids[0, 0] == 30 and scores[0, 0] > 0.99
    assert index.remove({30}) == 1
    _, ids = index.search(vectors[2:3], k=10)
    assert 30 not in ids[0] and len(ids[0]) == 4
    np.testing.assert_allclose(index.vectors(np.array([50])), vectors[4:5], rtol=1e-6)


def test_search_honours_allowed_ids_and_clamps_k():
    index = VectorIndex(8)
    vectors = unit_rows(4, 8)
    index.add(np.array([1, 2, 3, 4]), vectors)
    _, ids = index.search(vectors[0:1], k=99, allowed_ids=np.array([3, 4]))
    assert set(ids[0][ids[0] >= 0]) == {3, 4}


def test_copy_is_independent():
    index = VectorIndex(4)
    index.add(np.array([1]), unit_rows(1, 4))
    copy = index.copy()
    copy.remove({1})
    assert len(index) == 1 and len(copy) == 0


def test_folder_is_written_atomically_and_checked_against_the_manifest(tmp_path):
    index = VectorIndex(4)
    index.add(np.array([7]), unit_rows(1, 4))
    target = tmp_path / "index"
    write_folder_atomically(target, {"v.faiss": index.write}, {"encoders": {"dense": "m1"}})
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    assert manifest["format_version"] == FORMAT_VERSION and "faiss" in manifest["library_versions"]
    assert read_folder(target, {"encoders": {"dense": "m1"}}) is not None
    assert read_folder(target, {"encoders": {"dense": "other-model"}}) is None
    assert len(VectorIndex.read(target / "v.faiss", 4)) == 1
    # a second write replaces the folder and leaves no staging folders behind
    write_folder_atomically(target, {"v.faiss": index.write}, {"encoders": {"dense": "m1"}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
