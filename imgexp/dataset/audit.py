"""The data audit every run logs (``data_audit.json``) and ``imgexp audit`` prints: exact
duplicate images within each split and across splits (a train/test overlap is leakage: the test
score then measures memory), class counts and imbalance, image sizes, modes and formats, and the
files the scan skipped.

"Exact" means identical file bytes for folder datasets (the scan's sha256 of each file) and
identical pixels for in-memory arrays (a sha256 of each image's bytes, hashed here)."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

import numpy as np
from PIL import Image

from imgexp.dataset.files import FileTable

# Pairs (per pair of splits) and duplicate groups (per split) listed in the JSON; all are
# counted, and a list that stops short says how many it left out.
MAX_LISTED = 100_000
# Image modes are not recorded by the scan: read from each file's header (about 30 us a file),
# from a seeded sample of this many files in larger datasets (said in the JSON).
MODE_SAMPLE = 20_000
SPLIT_PAIRS = (("train", "validation"), ("train", "test"), ("validation", "test"))


def audit_splits(
    tables: dict[str, object],
    class_names: list[str],
    class_counts: dict[str, dict[str, int]],
    *,
    source: str = "",
    validation_is_test: bool = False,
    skipped: Iterable[dict[str, str]] = (),
    ignored: int = 0,
) -> dict[str, object]:
    """The audit of the split tables as built (`FileTable`s, or `ArrayTable`s with ``images``
    and ``origin``) of the dataset at ``source``; ``validation_is_test``: validation is the
    test split itself (``dataset.validation.source=test``), so the two are not compared."""
    compared = {
        split: table
        for split, table in tables.items()
        if not (split == "validation" and validation_is_test)
    }
    groups = {split: content_groups(table) for split, table in compared.items()}
    duplicates = {
        split: within_split(table, groups[split], class_names) for split, table in compared.items()
    }
    overlaps = {
        f"{a}-{b}": across_splits(
            a, compared[a], groups[a], b, compared[b], groups[b], class_names
        )
        for a, b in SPLIT_PAIRS
        if a in compared and b in compared
    }
    skipped = list(skipped)
    return {
        "source": source,
        "splits": {split: len(table.labels) for split, table in tables.items()},
        "validation_is_test": validation_is_test,
        "class_counts": class_counts,
        "imbalance": {split: imbalance(counts) for split, counts in class_counts.items()},
        "overlap_pairs": sum(found["count"] for found in overlaps.values()),
        "duplicate_copies": sum(found["copies"] for found in duplicates.values()),
        "overlaps": overlaps,
        "duplicates": duplicates,
        "images": image_facts(list(compared.values())),
        "skipped_files": len(skipped),
        "skipped_reasons": dict(Counter(entry["reason"].split(":")[0] for entry in skipped)),
        "skipped": skipped,
        "ignored_files": ignored,
    }


def content_keys(table: object) -> np.ndarray | list[bytes]:
    """One key per image: the scan's file hash, or a sha256 of each array image's pixels
    (70,000 MNIST images: about 0.1 s)."""
    if isinstance(table, FileTable):
        return table.hashes
    rows = np.ascontiguousarray(table.images).reshape(len(table.labels), -1)
    return [hashlib.sha256(row.tobytes()).digest() for row in rows]


def content_groups(table: object) -> dict[object, list[int]]:
    """Row indices by content key, in row order."""
    groups: dict[object, list[int]] = defaultdict(list)
    for row, key in enumerate(content_keys(table)):
        groups[key].append(row)
    return groups


def name_of(table: object, row: int) -> str:
    """How the JSON names an image: its file path, or ``x_train[i]`` / ``x_test[i]`` (the
    index in the loader's arrays)."""
    if isinstance(table, FileTable):
        return str(table.paths[row])
    return f"{table.array}[{int(table.origin[row])}]"


def within_split(table: object, groups: dict, class_names: list[str]) -> dict[str, object]:
    """Groups of identical images in one split (each group's classes: a duplicate filed under
    two classes is a labelling error)."""
    repeated = [rows for rows in groups.values() if len(rows) > 1]
    labels = [sorted({class_names[table.labels[row]] for row in rows}) for rows in repeated]
    listed = [
        {"images": [name_of(table, row) for row in rows], "classes": classes}
        for rows, classes in zip(repeated[:MAX_LISTED], labels, strict=False)
    ]
    return {
        "groups": len(repeated),
        "copies": sum(len(rows) - 1 for rows in repeated),  # images beyond each group's first
        "conflicting_labels": sum(len(classes) > 1 for classes in labels),
        "listed": listed,
        "not_listed": len(repeated) - len(listed),
    }


def across_splits(
    a: str, table_a: object, groups_a: dict, b: str, table_b: object, groups_b: dict, classes
) -> dict[str, object]:
    """Every (image of ``a``, identical image of ``b``) pair, and how many images of each side
    have a copy on the other."""
    shared = [key for key in groups_a if key in groups_b]  # in a's row order

    def pairs() -> Iterator[dict[str, str]]:
        for key in shared:
            for row_a in groups_a[key]:
                for row_b in groups_b[key]:
                    yield {
                        a: name_of(table_a, row_a),
                        b: name_of(table_b, row_b),
                        "classes": [
                            classes[table_a.labels[row_a]],
                            classes[table_b.labels[row_b]],
                        ],
                    }

    count = sum(len(groups_a[key]) * len(groups_b[key]) for key in shared)
    listed = [pair for _, pair in zip(range(MAX_LISTED), pairs(), strict=False)]
    return {
        "count": count,
        f"{a}_images": sum(len(groups_a[key]) for key in shared),
        f"{b}_images": sum(len(groups_b[key]) for key in shared),
        "pairs": listed,
        "not_listed": count - len(listed),
    }


def imbalance(counts: dict[str, int]) -> dict[str, object]:
    """Largest / smallest class (``ratio`` None when a class has no example: ``empty``)."""
    if not counts:
        return {"ratio": None, "largest": None, "smallest": None, "empty": []}
    largest, smallest = max(counts, key=counts.get), min(counts, key=counts.get)
    return {
        "ratio": round(counts[largest] / counts[smallest], 3) if counts[smallest] else None,
        "largest": largest,
        "smallest": smallest,
        "empty": [name for name, count in counts.items() if count == 0],
    }


def image_facts(tables: list[object]) -> dict[str, object]:
    """Sizes ("HxW"), modes and formats of the files; shape and dtype of array images."""
    if not all(isinstance(table, FileTable) for table in tables):
        shapes: Counter = Counter()
        for table in tables:
            shapes["x".join(map(str, table.images.shape[1:]))] += len(table.labels)
        dtypes = sorted({str(table.images.dtype) for table in tables})
        return {"kind": "arrays", "shapes": dict(shapes), "dtype": ",".join(dtypes)}
    sizes = Counter(f"{h}x{w}" for table in tables for h, w in table.sizes.tolist())
    formats = Counter(str(form) for table in tables for form in table.formats)
    known = [str(mode) for table in tables for mode in table.modes]
    if all(known):  # the scan recorded every file's mode: nothing to open again
        modes, read_from = Counter(known), f"the scan of all {len(known)} files"
    else:
        modes, read_from = file_modes([str(path) for table in tables for path in table.paths])
    return {
        "kind": "files",
        "sizes": dict(sizes.most_common()),
        "formats": dict(formats.most_common()),
        "modes": dict(modes.most_common()),
        "modes_read_from": read_from,
    }


def file_modes(paths: list[str]) -> tuple[Counter, str]:
    """PIL's mode of each file (its header only), or of a seeded sample of `MODE_SAMPLE`."""
    chosen = paths
    read_from = f"all {len(paths)} files"
    if len(paths) > MODE_SAMPLE:
        picked = np.random.default_rng(0).choice(len(paths), MODE_SAMPLE, replace=False)
        chosen = [paths[index] for index in np.sort(picked)]
        read_from = f"a seeded sample of {MODE_SAMPLE} of {len(paths)} files"
    modes: Counter = Counter()
    for path in chosen:
        try:
            with Image.open(path) as image:
                modes[image.mode] += 1
        except OSError as error:  # changed since the scan read it: counted by its reason
            modes[f"unreadable now ({type(error).__name__})"] += 1
    return modes, read_from
