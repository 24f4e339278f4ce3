import json

from app.matching.index import FORMAT_VERSION, MANIFEST_NAME, read_folder, write_folder_atomically


def test_folder_is_written_atomically_and_checked_against_the_manifest(tmp_path):
    def write_vectors(path):
        path.write_bytes(b"vectors")

    target = tmp_path / "index"
    write_folder_atomically(target, {"v.npy": write_vectors}, {"encoders": {"dense": "m1"}})
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    assert manifest["format_version"] == FORMAT_VERSION and "faiss" in manifest["library_versions"]
    assert read_folder(target, {"encoders": {"dense": "m1"}}) is not None
    assert read_folder(target, {"encoders": {"dense": "other-model"}}) is None
    assert (target / "v.npy").read_bytes() == b"vectors"
    # a second write replaces the folder and leaves no staging folders behind
    write_folder_atomically(target, {"v.npy": write_vectors}, {"encoders": {"dense": "m1"}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
