"""Downloads for ``dataset.download=true``: fetch each published file from its origin or from a
mirror (``dataset.mirror`` / ``$IMGEXP_DATA_MIRROR``: ``<mirror>/<file name>``), check the
checksum it is published with, and only then rename it into keras' cache. Archives unpack into
a temporary directory that is renamed into place with a completion marker, so an interrupted
download or extraction is never mistaken for data. Offline, a clear error within seconds."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from imgexp.errors import DownloadError

log = logging.getLogger(__name__)
TIMEOUT_ENV = "IMGEXP_DOWNLOAD_TIMEOUT"
MIRROR_ENV = "IMGEXP_DATA_MIRROR"
MARKER = ".imgexp-download.json"  # written last into an extracted download: it is complete
CHUNK = 1 << 20
STALE_SECONDS = 600  # a .part file untouched this long belongs to no live download


@dataclass(frozen=True)
class Remote:
    """One published file: its URL and the checksum it is published with."""

    origin: str  # the published URL; a mirror serves <mirror>/<file name> instead
    sha256: str | None = None
    md5: str | None = None  # only where the publisher gives no SHA-256

    @property
    def file(self) -> str:
        return Path(urllib.parse.urlsplit(self.origin).path).name


def timeout_seconds() -> float:
    """Seconds one network operation may block (``$IMGEXP_DOWNLOAD_TIMEOUT``, default 30)."""
    return float(os.environ.get(TIMEOUT_ENV, "30"))


def url_of(remote: Remote, cfg: DictConfig) -> str:
    """``<mirror>/<file name>`` when a mirror is set (``dataset.mirror`` wins over
    ``$IMGEXP_DATA_MIRROR``), else the published origin."""
    mirror = cfg.get("mirror") or os.environ.get(MIRROR_ENV)
    return f"{str(mirror).rstrip('/')}/{remote.file}" if mirror else remote.origin


def expected(remote: Remote, cfg: DictConfig) -> tuple[str, str, str] | None:
    """(algorithm, hex digest, where it comes from): ``dataset.sha256.<file name>`` first, then
    the published checksum pinned in code; None where nothing is known."""
    overrides = cfg.get("sha256") or {}
    if not isinstance(overrides, Mapping):
        raise ValueError(
            f"dataset.sha256={overrides!r}: give a map of published file name to SHA-256, "
            f"e.g. dataset.sha256={{{remote.file}:<64 hex digits>}}"
        )
    override = str(overrides.get(remote.file) or "").lower()
    if override and not re.fullmatch(r"[0-9a-f]{64}", override):
        raise ValueError(f"dataset.sha256.{remote.file}={override!r} is not 64 hex digits")
    if override:
        return "sha256", override, f"dataset.sha256 for {remote.file}"
    if remote.sha256:
        return "sha256", remote.sha256, "the published checksum"
    if remote.md5:
        return "md5", remote.md5, "the published checksum"
    return None


def digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            hasher.update(block)
    return hasher.hexdigest()


def require_online(origin: str, what: str, advice: str) -> None:
    """Open one TCP connection to the download host (or the proxy urllib will use) first:
    offline, name resolution or the connect fails within seconds, where a download would hang."""
    parts = urllib.parse.urlsplit(origin)
    if parts.scheme == "file":
        return
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection(
            (parts.hostname, port), timeout=min(timeout_seconds(), 10)
        ).close()
    except OSError as error:
        raise DownloadError(
            f"dataset.download=true: cannot reach {parts.hostname} to download {what} "
            f"({error}). Check the network or proxy, or download it by hand: {advice}"
        ) from error


def stream(url: str, handle, hashers: list) -> int:
    """Copy ``url`` into ``handle``; fails when fewer bytes arrive than the server announced."""
    with urllib.request.urlopen(url, timeout=timeout_seconds()) as response:
        announced = response.headers.get("Content-Length")
        total, step = (int(announced), int(announced) // 10 or 1) if announced else (None, 0)
        done = 0
        while block := response.read(CHUNK):
            handle.write(block)
            for hasher in hashers:
                hasher.update(block)
            if step and (done + len(block)) // step > done // step:
                log.info("%s: %d of %d MB", url, (done + len(block)) >> 20, total >> 20)
            done += len(block)
    if total is not None and done != total:
        raise OSError(f"the connection closed after {done} of {total} bytes")
    return done


def download_to(
    target: Path, remote: Remote, cfg: DictConfig, what: str, advice: str
) -> dict[str, str]:
    """Fetch ``remote`` into a temporary name next to ``target``, check it, and rename it to
    ``target``. Nothing is left behind when it fails. Returns its digests by algorithm."""
    url = url_of(remote, cfg)
    require_online(url, what, advice)
    target.parent.mkdir(parents=True, exist_ok=True)
    check = expected(remote, cfg)
    names = ["sha256", "md5"] if remote.md5 else ["sha256"]
    hashers = {name: hashlib.new(name, usedforsecurity=False) for name in names}
    log.info("Downloading %s from %s to %s", what, url, target)
    for stale in target.parent.glob(f".{target.name}.*.part"):  # left by killed runs
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()
    fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                size = stream(url, handle, list(hashers.values()))
            except Exception as error:  # noqa: BLE001 - any failure gets the same advice
                raise DownloadError(
                    f"dataset.download=true: downloading {what} from {url} failed ({error}); "
                    f"nothing was cached. Retry, or download it by hand: {advice}"
                ) from error
        digests = {name: hasher.hexdigest() for name, hasher in hashers.items()}
        if check and digests[check[0]] != check[1]:
            raise DownloadError(
                f"dataset.download=true: {remote.file} from {url} ({size} bytes) has {check[0]} "
                f"{digests[check[0]]}, expected {check[1]} ({check[2]}). The "
                "download is corrupt or incomplete and was discarded; nothing was cached. A "
                f"mirror that serves other bytes on purpose: pass dataset.sha256="
                f"{{{remote.file}:<its sha256>}}."
            )
        if not check:
            log.warning("%s: no published checksum to verify against", remote.file)
        os.replace(part, target)
    finally:
        if os.path.exists(part):
            os.remove(part)
    return digests


def ensure_file(remote: Remote, cfg: DictConfig, target: Path, what: str, advice: str) -> Path:
    """``target``, checked against its expected checksum; fetched (again) when it is missing or
    does not match. A cached file that checks out needs no network."""
    check = expected(remote, cfg)
    if target.is_file():
        if check is None or digest(target, check[0]) == check[1]:
            return target
        log.warning(
            "%s does not match %s %s (%s): corrupt or stale, downloading it again",
            target, check[0], check[1], check[2],
        )  # fmt: skip
    download_to(target, remote, cfg, what, advice)
    return target


def is_complete(dest: Path, remote: Remote, cfg: DictConfig) -> bool:
    """Whether ``dest`` is a finished extraction of ``remote`` (its marker matches)."""
    try:
        marker = json.loads((dest / MARKER).read_text())
    except (OSError, ValueError):
        return False
    check = expected(remote, cfg)
    return marker.get("file") == remote.file and (
        check is None or marker.get(check[0]) == check[1]
    )


def ensure_extracted(
    remote: Remote,
    cfg: DictConfig,
    dest: Path,
    what: str,
    advice: str,
    extract: Callable[[Path, Path], None],
) -> Path:
    """``dest`` holding ``remote`` extracted by ``extract(archive, into)``: downloaded and
    extracted in a temporary directory beside it, marked complete, then renamed into place.
    An earlier unmarked (half-extracted) ``dest`` is replaced."""
    if is_complete(dest, remote, cfg):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"))
    try:
        archive = work / remote.file
        digests = download_to(archive, remote, cfg, what, advice)
        marker = {"file": remote.file, "url": url_of(remote, cfg)} | digests
        try:
            extract(archive, work)
        except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, ValueError) as error:
            raise DownloadError(
                f"dataset.download=true: cannot extract {remote.file} from {marker['url']} "
                f"({error}); nothing was cached. Download it by hand instead: {advice}"
            ) from error
        archive.unlink()
        (work / MARKER).write_text(json.dumps(marker, indent=1))
        if dest.exists() and not is_complete(dest, remote, cfg):
            log.warning("replacing %s: an incomplete earlier download (no %s)", dest, MARKER)
            shutil.rmtree(dest)
        try:
            os.rename(work, dest)
        except OSError:
            if not is_complete(dest, remote, cfg):  # else another process finished first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def extract_tar(archive: Path, into: Path) -> None:
    """A .tar(.gz) archive, refusing members that would land outside ``into``."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
