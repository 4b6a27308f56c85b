"""The data audit (`imgexp.dataset.audit`) in words: the one-line headline of a run's closing
lines, the warning a run logs when splits share images, and ``imgexp audit``'s summary."""

from __future__ import annotations

import logging

PRINTED_PAIRS = 10  # per pair of splits; all of them are in data_audit.json


def headline(overlap_pairs: int, duplicate_copies: int) -> str:
    """``0 cross-split duplicate pairs, 0 duplicates within splits``."""
    return (
        f"{counted(overlap_pairs, 'cross-split duplicate pair')}, "
        f"{counted(duplicate_copies, 'duplicate')} within splits"
    )


def counted(count: int, thing: str) -> str:
    """``1 group``, ``2 groups``."""
    return f"{count} {thing}{'s' * (count != 1)}"


def short(name: str, audit: dict) -> str:
    """A file's path below the dataset root (the summary names the root once)."""
    return name.removeprefix(audit["source"].rstrip("/") + "/") if audit["source"] else name


def overlap_lines(audit: dict, limit: int = PRINTED_PAIRS) -> list[str]:
    """Each pair of splits that shares images, with its first ``limit`` pairs."""
    lines = []
    for name, found in audit["overlaps"].items():
        if not found["count"]:
            continue
        a, b = name.split("-")
        lines.append(
            f"{name}: {counted(found['count'], 'identical pair')} "
            f"({counted(found[f'{a}_images'], a + ' image')}, "
            f"{counted(found[f'{b}_images'], b + ' image')})"
        )
        pairs = found["pairs"][:limit]
        lines += [f"  {short(pair[a], audit)}  ==  {short(pair[b], audit)}" for pair in pairs]
        if found["count"] > limit:
            lines.append(f"  ... and {found['count'] - limit} more (all in data_audit.json)")
    return lines


def log_findings(audit: dict, log: logging.Logger) -> None:
    """A loud warning listing the pairs when splits share images (the test split then scores
    memorised examples), and one line each for duplicates within a split."""
    if audit["overlap_pairs"]:
        log.warning(
            "DATA LEAK: %d pairs of identical images across splits of %s (all in "
            "data_audit.json)\n%s",
            audit["overlap_pairs"],
            audit["source"],
            "\n".join(overlap_lines(audit)),
        )
    for split, found in audit["duplicates"].items():
        if found["conflicting_labels"]:
            log.warning(
                "%s: %d groups of identical images filed under different classes "
                "(data_audit.json)",
                split,
                found["conflicting_labels"],
            )
        if found["copies"]:
            log.info(
                "%s: %d duplicate images in %d groups", split, found["copies"], found["groups"]
            )


def summary_lines(audit: dict, limit: int = PRINTED_PAIRS) -> list[str]:
    """``imgexp audit``'s report: counts per class and split, imbalance, duplicates, overlaps,
    image facts, skipped files."""
    lines = count_table(audit)
    for split, found in audit["imbalance"].items():
        ratio = found["ratio"]
        spread = f"{ratio:g}" if ratio is not None else f"inf (no {', '.join(found['empty'])})"
        sides = f"largest {found['largest']}, smallest {found['smallest']}"
        lines.append(f"imbalance {split}: {spread} ({'balanced' if ratio == 1 else sides})")
    if audit["validation_is_test"]:
        lines.append("validation is the test split (dataset.validation.source=test)")
    lines.append(f"data audit: {headline(audit['overlap_pairs'], audit['duplicate_copies'])}")
    lines += overlap_lines(audit, limit) + duplicate_lines(audit, limit)
    files = audit["images"]["kind"] == "files"
    return lines + image_lines(audit["images"]) + (skipped_lines(audit) if files else [])


def duplicate_lines(audit: dict, limit: int) -> list[str]:
    """Each split's groups of identical images (the first ``limit``), with their classes."""
    lines = []
    for split, found in audit["duplicates"].items():
        if not found["groups"]:
            continue
        lines.append(
            f"{split}: {counted(found['copies'], 'duplicate')} in "
            f"{counted(found['groups'], 'group')} of identical images"
        )
        for group in found["listed"][:limit]:
            names = "  ==  ".join(short(name, audit) for name in group["images"])
            lines.append(f"  {names}  ({', '.join(group['classes'])})")
        if found["groups"] > limit:
            lines.append(f"  ... and {found['groups'] - limit} more groups")
    return lines


def count_table(audit: dict) -> list[str]:
    """Classes down, splits across, totals last."""
    counts = audit["class_counts"]
    splits = list(counts)
    classes = list(next(iter(counts.values()), {}))
    width = max([len("class"), len("total"), *(len(name) for name in classes)])
    lines = ["  ".join([f"{'class':<{width}}", *(f"{split:>10}" for split in splits)])]
    for name in classes:
        row = [f"{counts[split][name]:>10}" for split in splits]
        lines.append("  ".join([f"{name:<{width}}", *row]))
    totals = [f"{audit['splits'][split]:>10}" for split in splits]
    return [*lines, "  ".join([f"{'total':<{width}}", *totals])]


def image_lines(images: dict) -> list[str]:
    """Formats, modes and sizes of files; shape and dtype of arrays."""
    if images["kind"] == "arrays":
        shapes = ", ".join(f"{n} of shape {shape}" for shape, n in images["shapes"].items())
        return [f"images: {shapes}, dtype {images['dtype']}"]
    return [
        f"formats: {listing(images['formats'])}",
        f"modes: {listing(images['modes'])} (read from {images['modes_read_from']})",
        f"sizes (HxW): {len(images['sizes'])} distinct; most common "
        f"{listing(dict(list(images['sizes'].items())[:5]))}",
    ]


def skipped_lines(audit: dict) -> list[str]:
    """How many files the scan skipped and why (all of them in the JSON)."""
    line = f"skipped files: {audit['skipped_files']}"
    if audit["skipped_reasons"]:
        line += f" ({listing(audit['skipped_reasons'])})"
    return [line, f"ignored non-image files: {audit['ignored_files']}"]


def listing(counts: dict[str, int]) -> str:
    """``PNG 120, JPEG 3``."""
    return ", ".join(f"{key} {count}" for key, count in counts.items()) or "none"
