"""Folder datasets before decoding: which image files make up each split, plus what the scan
found (real format, size, content hash, the decoder that read it) and which files it skipped."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class FileTable:
    """Parallel arrays, one row per usable image file (index them all at once with `take`)."""

    paths: np.ndarray  # absolute paths (str)
    labels: np.ndarray  # int64 class indices
    formats: np.ndarray  # the real format PIL found ("JPEG", "PNG", ...), not the extension
    sizes: np.ndarray  # (N, 2) height, width in pixels
    hashes: np.ndarray  # sha256 of each file's bytes
    # "tf" or "pil": the decoder the scan read each file with (None: by format, decode.py)
    decoders: np.ndarray | None = None
    nbytes: np.ndarray | None = None  # each file's size when scanned (None or -1: unknown)
    # Each file's row in `ImageFiles.pixels`, when the scan decoded the files (None: it did not)
    rows: np.ndarray | None = None
    modes: np.ndarray | None = None  # PIL's mode of each file, as the scan found it ("": unknown)

    def __post_init__(self) -> None:
        self.paths = np.asarray(self.paths, dtype=object)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.formats = np.asarray(self.formats, dtype=object)
        self.sizes = np.asarray(self.sizes, dtype=np.int64).reshape(-1, 2)
        self.hashes = np.asarray(self.hashes, dtype=object)
        count = len(self.labels)
        self.decoders = np.asarray(
            [""] * count if self.decoders is None else self.decoders, dtype=object
        )
        self.nbytes = np.asarray([-1] * count if self.nbytes is None else self.nbytes, np.int64)
        if self.rows is not None:
            self.rows = np.asarray(self.rows, dtype=np.int64)
        self.modes = np.asarray([""] * count if self.modes is None else self.modes, dtype=object)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: np.ndarray) -> FileTable:
        """The rows at ``indices`` (in that order)."""
        return FileTable(
            self.paths[indices],
            self.labels[indices],
            self.formats[indices],
            self.sizes[indices],
            self.hashes[indices],
            self.decoders[indices],
            self.nbytes[indices],
            None if self.rows is None else self.rows[indices],
            self.modes[indices],
        )

    @classmethod
    def empty(cls) -> FileTable:
        return cls([], [], [], np.zeros((0, 2)), [])


@dataclass
class SkippedFile:
    """An image file the scan could not use, and why (logged, listed in dataset.json)."""

    path: str
    reason: str


@dataclass
class ImageFiles:
    """What a folder loader returns: the splits found on disk (``train`` always; ``validation``
    and ``test`` when the folder has ``val/``/``test/`` directories) and the scan's findings."""

    class_names: list[str]
    source: str
    splits: dict[str, FileTable]
    skipped: list[SkippedFile] = field(default_factory=list)
    ignored: int = 0  # files without an image extension (.DS_Store, notes.txt, ...)
    # uint8 (N, H, W, C): every file decoded by the scan at the configured size and channels
    # (``dataset.cache=memory``), indexed by `FileTable.rows`; None: the pipeline decodes.
    pixels: np.ndarray | None = field(default=None, repr=False)


def digest_files(root: str, splits: dict[str, FileTable]) -> str:
    """A content digest of every split: each file's bytes (by hash), its path relative to the
    dataset root and its label, so the digest does not depend on where the folder lives."""
    hasher = hashlib.sha256()
    prefix = len(root.rstrip("/")) + 1
    for split in sorted(splits):
        table = splits[split]
        rows = sorted(
            zip(table.paths, table.labels, table.hashes, strict=True), key=lambda row: row[0]
        )
        for path, label, file_hash in rows:
            hasher.update(f"{split}\0{path[prefix:]}\0{label}\0{file_hash}\n".encode())
    return hasher.hexdigest()[:16]
