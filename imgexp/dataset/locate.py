"""Where a dataset's files are looked for: one search order for every loader, so that
``dataset.data_dir``, ``$IMGEXP_DATA_DIR`` and keras' download cache behave the same everywhere.

An explicit ``dataset.data_dir`` is authoritative: it is the only place looked, and when it is
missing or lacks the files the error names it and what was expected there. The search order
($IMGEXP_DATA_DIR, keras' cache, a system copy) applies only when none is given."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from omegaconf import DictConfig

from imgexp.errors import DataNotFoundError
from imgexp.paths.home import DATA_ENV, data_home

__all__ = ["DataNotFoundError", "find_first", "not_found", "search_dirs"]


def keras_datasets_dir() -> Path:
    """keras' download cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``)."""
    return Path(os.environ.get("KERAS_HOME") or "~/.keras").expanduser() / "datasets"


def search_dirs(
    cfg: DictConfig, names: Sequence[str], extra: Sequence[str | Path] = (), generic: bool = True
) -> list[Path]:
    """Base directories in search order: ``dataset.data_dir`` alone when given; else
    ``$IMGEXP_DATA_DIR/<name>`` for each of the dataset's usual directory names, keras' cache
    ``<cache>/<name>``, then ``extra`` (e.g. a Debian package's directory). ``generic`` adds
    ``$IMGEXP_DATA_DIR`` and the cache directory themselves (keras keeps ``mnist.npz`` there);
    folder datasets leave them out, since any folder of folders would look like a dataset of
    classes."""
    if cfg.get("data_dir"):
        return [Path(str(cfg.data_dir)).expanduser()]
    bases: list[Path] = []
    if data_home():
        bases += [Path(data_home()) / name for name in names]
        bases += [Path(data_home())] if generic else []
    cache = keras_datasets_dir()
    bases += [cache / name for name in names] + ([cache] if generic else [])
    bases += [Path(path) for path in extra]
    unique: list[Path] = []
    for base in bases:
        if base not in unique:
            unique.append(base)
    return unique


def find_first(
    bases: Sequence[Path], subdirs: Sequence[str], accept: Callable[[Path], bool]
) -> Path | None:
    """The first ``base/subdir`` (subdirs most specific first, "" = the base itself) that
    ``accept`` recognises as the dataset."""
    for base in bases:
        for subdir in subdirs:
            candidate = base / subdir if subdir else base
            if accept(candidate):
                return candidate
    return None


def not_found_message(what: str, bases: Sequence[Path], layout: str, advice: str = "") -> str:
    """One error text for every loader: what was missing, where it looked, what to do."""
    looked = "\n  ".join(str(base) for base in bases)
    return (
        f"{what} not found. Looked in:\n  {looked}\nExpected layout:\n{layout}\n"
        f"Pass dataset.data_dir=<directory>, or set ${DATA_ENV} to a directory holding one "
        f"folder per dataset.{(' ' + advice) if advice else ''}"
    )


def not_found(
    cfg: DictConfig, what: str, bases: Sequence[Path], layout: str, advice: str = ""
) -> DataNotFoundError:
    """The error to raise when no base holds the dataset; for an explicit
    ``dataset.data_dir`` it names that directory and what was expected there."""
    if not cfg.get("data_dir"):
        return DataNotFoundError(not_found_message(what, bases, layout, advice))
    given = Path(str(cfg.data_dir)).expanduser()
    state = "does not exist" if not given.exists() else "does not hold them"
    downloaded = (
        f" dataset.download=true saves into keras' cache {keras_datasets_dir()}, which is "
        "searched only without dataset.data_dir."
        if cfg.get("download")
        else ""
    )
    return DataNotFoundError(
        f"{what} not found: dataset.data_dir={cfg.data_dir} {state}. Expected there:\n"
        f"{layout}\nAn explicit dataset.data_dir is the only place looked: fix the path, or "
        f"leave it out to search ${DATA_ENV}, keras' cache and the system copies."
        f"{downloaded}{(' ' + advice) if advice else ''}"
    )
