"""Explicit downloads (``dataset.download=true``) that fail fast and clearly when offline."""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
TIMEOUT_ENV = "IMGEXP_DOWNLOAD_TIMEOUT"


def timeout_seconds() -> float:
    """Seconds one network operation may block (``$IMGEXP_DOWNLOAD_TIMEOUT``, default 30)."""
    return float(os.environ.get(TIMEOUT_ENV, "30"))


def require_online(origin: str, what: str, advice: str) -> None:
    """Open one TCP connection to the download host first: offline, name resolution or the
    connect fails within seconds, where a download would hang or fail deep inside keras."""
    parts = urllib.parse.urlsplit(origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection(
            (parts.hostname, port), timeout=min(timeout_seconds(), 10)
        ).close()
    except OSError as error:
        raise RuntimeError(
            f"dataset.download=true: cannot reach {parts.hostname} to download {what} "
            f"({error}). Check the network or proxy, or download it by hand: {advice}"
        ) from error


def fetch(origin: str, what: str, advice: str, download: Callable[[], T]) -> T:
    """Run ``download`` (keras' downloader) after the reachability check, with a socket
    timeout so that a stalled connection fails instead of hanging the run."""
    require_online(origin, what, advice)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_seconds())
    try:
        return download()
    except Exception as error:  # noqa: BLE001 - any failure gets the same advice
        raise RuntimeError(
            f"dataset.download=true: downloading {what} from {origin} failed ({error}). "
            f"Download it by hand instead: {advice}"
        ) from error
    finally:
        socket.setdefaulttimeout(previous)
