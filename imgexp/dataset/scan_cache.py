"""Remembers what the scan learnt about each file, so that later runs on the same folder (every
job of a sweep, every rerun) check only the files that changed instead of checking them all
(with the in-memory cache, `decode_folder` still reads and decodes every file: it fills it).

A file counts as unchanged while its size and modification time (ns) are the same, the test
``make`` and ``rsync`` use; delete ``$IMGEXP_HOME/cache/scan/`` to force a full rescan. One JSON
file per dataset root, replaced atomically, so parallel jobs never read half of one. Entries of
an older scan (`VERSION`: what the scan checks and records) are rescanned, not trusted."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from imgexp.dataset.files import SkippedFile
from imgexp.dataset.scan import ImageInfo, Result, decode_images
from imgexp.paths.home import imgexp_home

Key = tuple[int, int]  # (size, mtime_ns)
# 2: every file decoded once by the decoder it takes, which is recorded (decode.choose_decoder)
VERSION = 2


def decode_folder(
    paths: list[str], root: str | Path, image_size: tuple[int, int], channels: int, keep: bool
) -> tuple[list[Result], np.ndarray | None]:
    """`decode_images` for the files of one dataset root: new or changed files are checked
    (then remembered); with ``keep`` every file is read and decoded once (row i of the array:
    file i), without it the files checked before are not read at all."""
    file, entries, keys, known = remembered(paths, root)
    sizes = [key[0] if key else 0 for key in keys]
    results, images = decode_images(paths, known, sizes, image_size, channels, keep)
    fresh = [index for index, result in enumerate(results) if result is not known[index]]
    if fresh:
        remember(file, entries, paths, keys, results, fresh)
    return results, images


def remembered(
    paths: list[str], root: str | Path
) -> tuple[Path, dict[str, Any], list[Key | None], list[Result | None]]:
    """The cache file of ``root``, its entries, each path's key and cached result (or None)."""
    file = cache_file(root)
    entries = load(file)
    keys = [file_key(path) for path in paths]
    results: list[Result | None] = [
        lookup(entries.get(path), path, key) for path, key in zip(paths, keys, strict=True)
    ]
    return file, entries, keys, results


def remember(
    file: Path,
    entries: dict[str, Any],
    paths: list[str],
    keys: list[Key | None],
    results: list[Result | None],
    indices: list[int],
) -> None:
    """Record the results at ``indices`` (those whose file could be stat'ed) and save."""
    for index in indices:
        result = results[index]
        if keys[index] is not None and result is not None:
            entries[paths[index]] = entry(result, keys[index])
    save(file, entries)


def cache_file(root: str | Path) -> Path:
    """Where the scan results of one dataset root are kept."""
    digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return Path(imgexp_home()) / "cache" / "scan" / f"{digest}.json"


def file_key(path: str) -> Key | None:
    """(size, mtime_ns) of a file, or None when it cannot be stat'ed (scanned, then skipped)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def load(file: Path) -> dict[str, Any]:
    """The cached entries, or none when the file is missing or unreadable."""
    try:
        entries = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def lookup(entry: Any, path: str, key: Key | None) -> Result | None:
    """The cached result for ``path`` when its entry matches the file as it is now."""
    if key is None or not isinstance(entry, dict) or entry.get("key") != list(key):
        return None
    if entry.get("version") != VERSION:
        return None
    if "skipped" in entry:
        return SkippedFile(path, str(entry["skipped"]))
    try:
        image_format, height, width, sha256, decoder, *mode = entry["info"]
    except (KeyError, TypeError, ValueError):
        return None
    fields = str(image_format), int(height), int(width), str(sha256), str(decoder), key[0]
    return ImageInfo(*fields, str(mode[0]) if mode else "")  # no mode: an earlier entry


def entry(result: Result, key: Key) -> dict[str, Any]:
    if isinstance(result, SkippedFile):
        return {"key": list(key), "version": VERSION, "skipped": result.reason}
    info = [result.format, result.height, result.width, result.sha256, result.decoder, result.mode]
    return {"key": list(key), "version": VERSION, "info": info}


def save(file: Path, entries: dict[str, Any]) -> None:
    """Write atomically; a cache that cannot be written only costs a rescan next time."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=file.parent, delete=False) as handle:
            handle.write(json.dumps(entries))  # one write: json.dump writes piece by piece
        os.replace(handle.name, file)
    except OSError:
        pass
