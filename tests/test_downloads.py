"""``dataset.download=true`` end to end, against a mirror on 127.0.0.1 serving tiny archives in
each dataset's published layout: fetch, checksum, extract, cache, train; a second run from the
cache with the network gone; corrupt and truncated downloads refused with nothing cached."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import pickle
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from helpers import write_idx
from omegaconf import OmegaConf
from PIL import Image

import imgexp
from imgexp.config import compose_config
from imgexp.dataset import cifar, download, folder_sources, idx, locate
from imgexp.dataset.build import build_data

FLOWER_CLASSES = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
CALTECH_CLASSES = ["BACKGROUND_Google", "crab", "cup", "Faces_easy"]


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 10), (seed * 37 % 256, seed * 91 % 256, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def cifar_archive() -> bytes:
    """cifar-10-python.tar.gz: cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta,
    readme.html; each batch a protocol-2 pickle of bytes-keyed dicts, as published."""

    def batch(n: int, offset: int) -> bytes:
        labels = [(offset + i) % 10 for i in range(n)]
        data = (np.arange(n * 3072) % 251).astype(np.uint8).reshape(n, 3072)
        names = [f"img_{offset + i}.png".encode() for i in range(n)]
        content = {b"batch_label": b"b", b"labels": labels, b"data": data, b"filenames": names}
        return pickle.dumps(content, protocol=2)

    members = {f"data_batch_{k}": batch(6, 6 * k) for k in range(1, 6)}
    members["test_batch"] = batch(6, 100)
    members["batches.meta"] = pickle.dumps(
        {b"num_cases_per_batch": 6, b"label_names": [c.encode() for c in cifar.CLASSES]},
        protocol=2,
    )
    members["readme.html"] = b"<html></html>"
    return tar_bytes({f"{cifar.BATCHES}/{name}": raw for name, raw in members.items()})


def mnist_npz() -> bytes:
    arrays = {}
    for split, count in (("train", 40), ("test", 10)):
        arrays[f"x_{split}"] = np.full((count, 28, 28), 7, np.uint8)
        arrays[f"y_{split}"] = (np.arange(count) % 10).astype(np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def fashion_files(tmp: Path) -> dict[str, bytes]:
    """The four idx .gz files, as Zalando (and keras' copy) publish them."""
    tmp.mkdir()
    for prefix, count in (("train", 40), ("t10k", 10)):
        write_idx(tmp / f"{prefix}-images-idx3-ubyte.gz", np.ones((count, 28, 28)), 2051)
        write_idx(tmp / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10, 2049)
    return {path.name: path.read_bytes() for path in tmp.iterdir()}


def flowers_archive() -> bytes:
    """flower_photos.tgz: flower_photos/<class>/*.jpg and flower_photos/LICENSE.txt."""
    members = {"flower_photos/LICENSE.txt": b"CC-BY"}
    for label, name in enumerate(FLOWER_CLASSES):
        for k in range(5):
            members[f"flower_photos/{name}/{label}{k}_n.jpg"] = jpeg(10 * label + k)
    return tar_bytes(members)


def caltech_archive() -> bytes:
    """caltech-101.zip: caltech-101/{101_ObjectCategories.tar.gz, Annotations.tar,
    show_annotation.m} and macOS' __MACOSX/ AppleDouble copies, as CaltechDATA serves it."""
    images = {
        f"101_ObjectCategories/{name}/image_{k:04d}.jpg": jpeg(5 * label + k)
        for label, name in enumerate(CALTECH_CLASSES)
        for k in range(1, 6)
    }
    inner = tar_bytes(images)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("caltech-101/101_ObjectCategories.tar.gz", inner)
        archive.writestr("caltech-101/Annotations.tar", tar_bytes({"Annotations/x": b""}, "w"))
        archive.writestr("caltech-101/show_annotation.m", b"% matlab")
        archive.writestr("__MACOSX/caltech-101/._101_ObjectCategories.tar.gz", b"\0\5\26\7junk")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every file the mirror serves, by published file name."""
    files = {
        cifar.ARCHIVE: cifar_archive(),
        "mnist.npz": mnist_npz(),
        "flower_photos.tgz": flowers_archive(),
        "caltech-101.zip": caltech_archive(),
    }
    return files | fashion_files(tmp_path_factory.mktemp("idx") / "fashion")


class Mirror:
    """A static file server on 127.0.0.1; ``mode`` "corrupt" flips bytes, "truncated" closes
    the connection halfway through the announced length."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.mode, self.requests = files, "ok", []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                mirror.requests.append(name)
                if name not in mirror.files:
                    self.send_error(404)
                    return
                body = mirror.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mirror.mode == "corrupt":
                    body = body[:100] + bytes(255 - b for b in body[100:200]) + body[200:]
                self.wfile.write(body[: len(body) // 2] if mirror.mode == "truncated" else body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()

    def overrides(self, *names: str) -> list[str]:
        """download=true from this mirror, with the tiny files' own SHA-256s."""
        sums = ",".join(f"{n}:'{hashlib.sha256(self.files[n]).hexdigest()}'" for n in names)
        return [
            "dataset.download=true",
            f"dataset.mirror={self.url}",
            f"dataset.sha256={{{sums}}}",
        ]


@pytest.fixture
def mirror(published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(download.MIRROR_ENV, raising=False)
    # A machine with Debian's dataset-fashion-mnist (CI installs it) would serve that copy.
    without_system_copy = dataclasses.replace(idx.FASHION_MNIST, system_dir=None)
    monkeypatch.setattr(idx, "FASHION_MNIST", without_system_copy)
    server = Mirror(dict(published))
    yield server
    server.stop()


def cache() -> Path:
    return locate.keras_datasets_dir()


def offline(monkeypatch: pytest.MonkeyPatch, mirror: Mirror) -> None:
    """Stop the mirror and refuse every connection from here on."""
    mirror.stop()

    def refuse(*args, **kwargs):
        raise AssertionError("no network may be used: the cache should do")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def bundle(*overrides: str):
    return build_data(compose_config(*overrides).dataset, batch_size=8, seed=0)


CASES = {  # dataset -> (published files, extra overrides, counts, what lands in the cache)
    "mnist": (["mnist.npz"], [], {"train": 36, "validation": 4, "test": 10}, "mnist.npz"),
    "fashion_mnist": (
        list(idx.FILES.values()),
        ["dataset.validation.size=8"],
        {"train": 32, "validation": 8, "test": 10},
        "fashion-mnist/train-images-idx3-ubyte.gz",
    ),
    "flowers": (
        ["flower_photos.tgz"],
        ["dataset.image_size=[16,16]"],
        {"train": 16, "validation": 4, "test": 5},
        f"flowers/{download.MARKER}",
    ),
    "caltech101": (
        ["caltech-101.zip"],
        ["dataset.image_size=[16,16]"],
        {"train": 10, "validation": 2, "test": 3},
        f"caltech101/{download.MARKER}",
    ),
}


def test_cifar10_preset_downloads_trains_a_step_then_runs_from_the_cache(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first command an online user types, with a tiny model and one step.
    command = ["experiment=cifar10_functional_cnn", *mirror.overrides(cifar.ARCHIVE),
               "dataset.validation.size=6", "trainer.epochs=1", "trainer.steps_per_epoch=1",
               "trainer.batch_size=8", "tracking.log_model=false", "model=mlp",
               "model.hidden_units=[8]"]  # fmt: skip
    result = imgexp.train(*command)
    assert np.isfinite(result.metrics["test_loss"])
    cached = cache() / "cifar10" / cifar.ARCHIVE
    assert cached.read_bytes() == mirror.files[cifar.ARCHIVE]
    assert mirror.requests == [cifar.ARCHIVE]
    offline(monkeypatch, mirror)
    again = bundle(*command)
    assert again.source == str(cached) and again.counts == {
        "train": 24,
        "validation": 6,
        "test": 6,
    }


@pytest.mark.parametrize("name", list(CASES))
def test_download_fetches_checks_extracts_and_caches(
    name: str, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, extra, counts, left = CASES[name]
    command = [f"dataset={name}", *mirror.overrides(*files), *extra]
    first = bundle(*command)
    assert first.counts == counts and sorted(mirror.requests) == sorted(files)
    assert (cache() / left).is_file()
    if name == "caltech101":  # the zip's inner archive is unpacked; annotations left out
        assert sorted(first.class_names) == sorted(CALTECH_CLASSES[1:])
        assert sorted(p.name for p in (cache() / "caltech101").iterdir()) == [
            download.MARKER, "101_ObjectCategories"]  # fmt: skip
    offline(monkeypatch, mirror)
    second = bundle(*command)
    assert second.counts == counts and second.source == first.source


@pytest.mark.parametrize("name", ["cifar10", "flowers"])
def test_corrupt_download_names_the_file_and_hash_and_caches_nothing(
    name: str, mirror: Mirror
) -> None:
    file = cifar.ARCHIVE if name == "cifar10" else "flower_photos.tgz"
    mirror.mode = "corrupt"
    with pytest.raises(RuntimeError, match="corrupt or incomplete") as info:
        bundle(f"dataset={name}", *mirror.overrides(file), "dataset.validation.size=6")
    assert file in str(info.value)
    assert hashlib.sha256(mirror.files[file]).hexdigest() in str(info.value)
    assert [p for p in cache().rglob("*") if not p.is_dir()] == []
    mirror.mode = "ok"  # a later run downloads it afresh and works
    assert bundle(f"dataset={name}", *mirror.overrides(file), "dataset.validation.size=6").counts


@pytest.mark.parametrize("name", ["mnist", "caltech101"])
def test_truncated_download_is_refused_and_caches_nothing(name: str, mirror: Mirror) -> None:
    files, extra, counts, _ = CASES[name]
    mirror.mode = "truncated"
    with pytest.raises(RuntimeError, match=r"closed after \d+ of \d+ bytes.*nothing was cached"):
        bundle(f"dataset={name}", *mirror.overrides(*files), *extra)
    assert [p for p in cache().rglob("*") if not p.is_dir()] == []
    with pytest.raises(FileNotFoundError):  # and a run without download=true finds nothing
        bundle(f"dataset={name}", *extra)


def test_published_checksum_is_checked_when_not_overridden(mirror: Mirror) -> None:
    with pytest.raises(RuntimeError, match="the published checksum") as info:
        bundle("dataset=mnist", "dataset.download=true", f"dataset.mirror={mirror.url}")
    assert idx.MNIST_NPZ.sha256 in str(info.value) and not (cache() / "mnist.npz").exists()


def test_corrupt_cached_file_is_downloaded_again(mirror: Mirror) -> None:
    (cache()).mkdir(parents=True)
    whole = mirror.files["mnist.npz"]
    (cache() / "mnist.npz").write_bytes(whole[: len(whole) // 2])  # what a killed keras left
    assert bundle("dataset=mnist", *mirror.overrides("mnist.npz")).counts["test"] == 10
    assert mirror.requests == ["mnist.npz"]
    assert (cache() / "mnist.npz").read_bytes() == mirror.files["mnist.npz"]


def test_half_extracted_archive_is_replaced(mirror: Mirror) -> None:
    partial = cache() / "flowers" / "flower_photos" / "daisy"
    partial.mkdir(parents=True)
    (partial / "0.jpg").write_bytes(jpeg(1))  # unpacking stopped after one image, no marker
    (partial.parents[2] / ".flowers.x.partial").mkdir()  # a killed run's work dir: ignored
    built = bundle("dataset=flowers", *mirror.overrides("flower_photos.tgz"))
    assert built.class_names == FLOWER_CLASSES and mirror.requests == ["flower_photos.tgz"]
    marker = json.loads((cache() / "flowers" / download.MARKER).read_text())
    assert marker["sha256"] == hashlib.sha256(mirror.files["flower_photos.tgz"]).hexdigest()


def test_mirror_key_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    remote = folder_sources.CALTECH_REMOTE
    cfg = OmegaConf.create({"mirror": None, "sha256": {}})
    assert download.url_of(remote, cfg) == folder_sources.CALTECH_URL
    monkeypatch.setenv(download.MIRROR_ENV, "http://machine.example/data/")
    assert download.url_of(remote, cfg) == "http://machine.example/data/caltech-101.zip"
    cfg.mirror = "https://run.example/m"
    assert download.url_of(remote, cfg) == "https://run.example/m/caltech-101.zip"
    assert download.expected(remote, cfg) == ("md5", remote.md5, "the published checksum")
    cfg.sha256 = {"caltech-101.zip": "AB" * 32}
    assert download.expected(remote, cfg)[:2] == ("sha256", "ab" * 32)


def test_gzip_member_names_match_the_published_ones(published: dict[str, bytes]) -> None:
    """The fixture's idx files are what the loaders and the pinned checksums name."""
    assert {r.file for r in idx.FASHION_FILES} == set(idx.FILES.values()) <= set(published)
    with gzip.open(io.BytesIO(published["train-images-idx3-ubyte.gz"])) as handle:
        assert int.from_bytes(handle.read(4), "big") == idx.IMAGES_MAGIC
