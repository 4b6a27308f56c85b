"""Every image format and mode the folder scan accepts is decoded, by one decode path shared by
training and prediction, to the pixels the picture has; a file that passes the header checks but
cannot be decoded is skipped and named (never dropped silently by the pipeline), or fails a
strict run; every split yields exactly the count the run logs."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import full_scan
from PIL import Image

from imgexp.cli import predict_command
from imgexp.config import compose_config
from imgexp.dataset import decode, pipeline, scan, scan_cache
from imgexp.dataset.build import build_data
from imgexp.dataset.files import FileTable
from imgexp.predict import images, predictor, source

HEIGHT, WIDTH = 18, 24
Writer = Callable[[np.ndarray, Path], None]


def picture(seed: int) -> np.ndarray:
    """A smooth uint8 RGB picture (JPEG keeps it close), different for each seed."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    red = 40 + 8 * rows + 60 * seed
    green = 30 + 7 * cols
    blue = 200 - 4 * rows - 3 * cols - 50 * seed
    return np.clip(np.stack([red, green, blue], -1), 0, 255).astype(np.uint8)


def sixteen_bit(pixels: np.ndarray) -> np.ndarray:
    """16-bit gray whose high byte is the red channel (and whose low byte is not zero)."""
    return pixels[..., 0].astype(np.uint16) * 256 + pixels[..., 1]


def frames(pixels: np.ndarray) -> list[Image.Image]:
    """An animation: the picture first, then two other frames."""
    return [Image.fromarray(pixels)] + [
        Image.fromarray(255 - np.roll(pixels, k, 1)) for k in (3, 7)
    ]


def exif_rotated(pixels: np.ndarray, path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to display
    Image.fromarray(pixels).save(path, "JPEG", quality=95, exif=exif.tobytes())


def multipage16(pixels: np.ndarray, path: Path) -> None:
    pages = [Image.fromarray(sixteen_bit(pixels)), Image.fromarray(sixteen_bit(255 - pixels))]
    pages[0].save(path, "TIFF", save_all=True, append_images=pages[1:])


def save(mode: str, fmt: str, **options) -> Writer:
    return lambda pixels, path: Image.fromarray(pixels).convert(mode).save(path, fmt, **options)


def save_all(fmt: str, **options) -> Writer:
    def write(pixels: np.ndarray, path: Path) -> None:
        first, *rest = frames(pixels)
        first.save(path, fmt, save_all=True, append_images=rest, **options)

    return write


# file name -> how it is written from a picture
WRITERS: dict[str, Writer] = {
    "rgb.png": save("RGB", "PNG"),
    "cmyk.jpg": save("CMYK", "JPEG", quality=95),
    "exif_rotated.jpg": exif_rotated,
    "gray.jpg": save("L", "JPEG", quality=95),
    "sixteen_bit.png": lambda pixels, path: Image.fromarray(sixteen_bit(pixels)).save(path),
    "palette.png": save("P", "PNG"),
    "rgba.png": save("RGBA", "PNG"),
    "gray_alpha.png": save("LA", "PNG"),
    "animated.gif": save_all("GIF", duration=40, loop=0),
    "bitmap.bmp": save("RGB", "BMP"),
    "palette.bmp": save("P", "BMP"),  # TF's BMP decoder would read its indices as gray
    "bilevel.bmp": save("1", "BMP"),  # TF's BMP decoder refuses 1-bit files
    "lossless.webp": save("RGB", "WEBP", lossless=True),
    "animated.webp": save_all("WEBP", lossless=True),  # TF refuses animated WebP
    "scan.tif": save("RGB", "TIFF", compression="tiff_lzw"),
    "cmyk.tif": save("CMYK", "TIFF"),
    "rgba.tif": save("RGBA", "TIFF", compression="tiff_adobe_deflate"),
    "multipage16.tif": multipage16,
    "png_named.jpg": save("RGB", "PNG"),  # disguised: found by content
    "tiff_named.png": save("RGB", "TIFF"),
}
LOSSY = {"cmyk.jpg", "exif_rotated.jpg", "gray.jpg"}


def expected_pixels(path: Path, pixels: np.ndarray) -> np.ndarray:
    """The RGB pixels a file of the picture should decode to, worked out without imgexp:
    alpha dropped, palettes expanded, gray replicated, 16 bits to their high byte, first frame
    of animations and pages, EXIF orientation ignored (as TensorFlow's decoders do)."""
    name = path.name
    gray = {"gray.jpg", "gray_alpha.png", "sixteen_bit.png", "multipage16.tif"}
    if name in gray:
        channel = pixels[..., 0] if "sixteen" in name or "16" in name else None
        if channel is None:
            channel = np.asarray(Image.fromarray(pixels).convert("L"))
        return np.repeat(channel[..., None], 3, -1)
    if name in ("palette.png", "palette.bmp", "bilevel.bmp"):
        mode = "1" if name == "bilevel.bmp" else "P"
        return np.asarray(Image.fromarray(pixels).convert(mode).convert("RGB"))
    if name == "animated.gif":  # GIF quantises: its first frame as PIL reads it (TF decodes it)
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    return pixels


def write_all(folder: Path, pixels: np.ndarray) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, write in WRITERS.items():
        write(pixels, folder / name)
    return [folder / name for name in WRITERS]


def corrupt_jpeg(path: Path) -> None:
    """A JPEG whose header (and end marker) are fine but whose entropy-coded data holds an
    invalid marker: PIL opens and verifies it, neither decoder can decode it."""
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, "JPEG", quality=90)
    data = bytearray(buffer.getvalue())
    data[len(data) // 2 : len(data) // 2 + 2] = b"\xff\x4a"
    path.write_bytes(bytes(data))


def garbage_tiff(path: Path) -> None:
    """A deflate TIFF with a valid header and a garbage strip."""
    buffer = io.BytesIO()
    Image.fromarray(picture(0)).save(buffer, "TIFF", compression="tiff_adobe_deflate")
    data = bytearray(buffer.getvalue())
    with Image.open(io.BytesIO(bytes(data))) as image:
        offset, length = image.tag_v2[273][0], image.tag_v2[279][0]
    noise = np.random.default_rng(1).integers(0, 256, length - 2, dtype=np.uint8)
    data[offset + 2 : offset + length] = noise.tobytes()
    path.write_bytes(bytes(data))


def plant_undecodable(folder: Path) -> list[Path]:
    """Files that pass PIL's open and verify() (the old scan's test for a JPEG ending with its
    end-of-image marker) but cannot be decoded."""
    bad = [folder / "corrupt.jpg", folder / "garbage.tif"]
    corrupt_jpeg(bad[0])
    garbage_tiff(bad[1])
    for path in bad:
        with Image.open(path) as image:
            image.verify()
    assert bad[0].read_bytes().endswith(b"\xff\xd9")
    return bad


def bundle_of(root: Path, *overrides: str):
    cfg = compose_config(
        "dataset=image_folder", f"dataset.data_dir={root}", "dataset.image_size=[16,16]",
        "dataset.test_size=0.25", "dataset.validation.size=0.25", *overrides,
    )  # fmt: skip
    return build_data(cfg.dataset, 4, seed=0)


def labels_of(dataset: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([labels.numpy() for _, labels in dataset])


def assert_splits_yield_their_counts(bundle) -> None:
    for split in ("train", "validation", "test"):
        labels = labels_of(getattr(bundle, split))
        assert len(labels) == bundle.counts[split] == bundle.tags()[f"dataset.n_{split}"]
        per_class = dict(zip(bundle.class_names, np.bincount(labels, minlength=2), strict=True))
        assert per_class == bundle.class_counts[split], split
    assert set(labels_of(bundle.train)) == {0, 1}  # both classes are trained on


def test_every_format_and_mode_decodes_to_its_pixels(tmp_path: Path) -> None:
    pixels = picture(0)
    paths = write_all(tmp_path, pixels)
    infos = full_scan([str(path) for path in paths])
    decoders = {path.name: info.decoder for path, info in zip(paths, infos, strict=True)}
    assert all(isinstance(info, scan.ImageInfo) for info in infos), infos
    assert decoders["cmyk.jpg"] == decoders["animated.gif"] == decoders["rgba.png"] == "tf"
    assert decoders["animated.webp"] == decoders["palette.bmp"] == decoders["scan.tif"] == "pil"
    for path in paths:
        decoded = images.load_image(path, None, 3)  # its own size: no resampling
        expected = expected_pixels(path, pixels)
        assert decoded.shape == expected.shape, path.name  # EXIF orientation not applied
        difference = np.abs(decoded.astype(int) - expected)
        if path.name in LOSSY:
            assert difference.mean() < 3 and difference.max() <= 24, path.name
        else:
            assert difference.max() == 0, path.name


def table_of(paths: list[Path], infos: list[scan.ImageInfo]) -> FileTable:
    """The files as the check-only scan found them (what the pipeline decodes from disk)."""
    return FileTable(
        [str(path) for path in paths], np.zeros(len(paths)), [info.format for info in infos],
        [(info.height, info.width) for info in infos], [info.sha256 for info in infos],
        [info.decoder for info in infos], [info.nbytes for info in infos],
    )  # fmt: skip


def test_training_and_prediction_decode_every_file_to_the_same_pixels(tmp_path: Path) -> None:
    paths = write_all(tmp_path, picture(1))
    table = table_of(paths, full_scan([str(path) for path in paths]))
    for channels in (3, 1):
        graph = [image.numpy() for image, _ in pipeline.decoded_files(table, (7, 9), channels)]
        eager = [images.load_image(path, (7, 9), channels) for path in paths]
        assert len(graph) == len(paths)
        for path, trained, predicted in zip(paths, graph, eager, strict=True):
            np.testing.assert_array_equal(trained, predicted, err_msg=path.name)


def test_the_scan_decodes_every_file_to_the_pixels_the_pipeline_does(tmp_path: Path) -> None:
    """One read per file (``dataset.cache=memory``): the scan's check, decoder and pixels are
    exactly what the check-only scan and the pipeline's own decode give, for every format and
    mode, both channel counts, reduced-size JPEG decodes (1/2, 1/8) and a size kept as is; the
    second size comes from the remembered scan (read and decoded only)."""
    root = tmp_path / "data"
    paths = write_all(root / "a", picture(0))
    rows, cols = np.mgrid[0:480, 0:640]
    photo = np.stack([rows * 255 // 480, cols * 255 // 640, (rows + cols) % 256], -1)
    Image.fromarray(photo.astype(np.uint8)).save(root / "a" / "photo.jpg", quality=90)
    paths.append(root / "a" / "photo.jpg")
    names = [str(path) for path in paths]
    checked = full_scan(names)
    table = table_of(paths, checked)
    for size, channels in (((16, 20), 3), ((200, 240), 1), ((HEIGHT, WIDTH), 3)):
        results, pixels = scan_cache.decode_folder(names, root, size, channels, keep=True)
        assert results == checked  # format, size, sha256, decoder, bytes, mode
        expected = [image.numpy() for image, _ in pipeline.decoded_files(table, size, channels)]
        assert pixels.shape == (len(paths), *size, channels)
        for path, row, image in zip(paths, pixels, expected, strict=True):
            np.testing.assert_array_equal(row, image, err_msg=f"{path.name} at {size}")
    assert {decode.jpeg_ratio(480, 640, size) for size in ((16, 20), (200, 240))} == {8, 2}


def test_one_read_and_check_only_scans_agree_on_bad_files_digest_and_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same folder with the in-memory cache (the default: the scan's pixels are trained on)
    and without (``dataset.cache=null``: the pipeline reads and decodes the files again), each
    from a cold scan cache: the same files skipped for the same reasons, the same digest and
    counts, and the same test images and sample."""
    root = tmp_path / "data"
    write_all(root / "a", picture(0))
    write_all(root / "b", picture(1))
    plant_undecodable(root / "a")
    (root / "b" / "truncated.png").write_bytes((root / "b" / "rgb.png").read_bytes()[:60])
    (root / "b" / "empty.jpg").write_bytes(b"")
    bundles = []
    for cache in ("memory", "null"):
        monkeypatch.setenv("IMGEXP_HOME", str(tmp_path / f"home-{cache}"))
        bundles.append(bundle_of(root, f"dataset.cache={cache}"))
    one_read, check_only = bundles
    assert len(one_read.skipped) == 4 and one_read.skipped == check_only.skipped
    assert one_read.digest == check_only.digest and one_read.counts == check_only.counts
    for bundle in bundles:
        assert_splits_yield_their_counts(bundle)
    test_images = [np.concatenate([x.numpy() for x, _ in bundle.test]) for bundle in bundles]
    np.testing.assert_array_equal(*test_images)
    np.testing.assert_array_equal(one_read.sample, check_only.sample)


def test_a_folder_of_every_format_yields_every_file_and_both_classes(tmp_path: Path) -> None:
    write_all(tmp_path / "data" / "a", picture(0))
    write_all(tmp_path / "data" / "b", picture(1))
    bundle = bundle_of(tmp_path / "data")
    assert bundle.skipped == [] and sum(bundle.counts.values()) == 2 * len(WRITERS)
    assert_splits_yield_their_counts(bundle)


def test_a_class_of_tiff_files_is_trained_on(tmp_path: Path) -> None:
    """The report: one class PNG, the other TIFF (several modes); the TIFFs were counted and
    then dropped by the pipeline, so the model saw one class."""
    root = tmp_path / "data"
    for index in range(6):
        pixels = picture(index % 2)
        (root / "png").mkdir(parents=True, exist_ok=True)
        (root / "tiff").mkdir(exist_ok=True)
        Image.fromarray(pixels).save(root / "png" / f"{index}.png")
        mode = ["RGB", "CMYK", "RGBA", "L", "P", "LA"][index]
        Image.fromarray(pixels).convert(mode).save(root / "tiff" / f"{index}.tif")
    bundle = bundle_of(root, "dataset.test_size=2", "dataset.validation.size=2")
    assert bundle.skipped == [] and bundle.class_counts["train"] == {"png": 4, "tiff": 4}
    assert_splits_yield_their_counts(bundle)


def test_files_that_pass_the_header_check_but_cannot_be_decoded(tmp_path: Path) -> None:
    write_all(tmp_path / "data" / "a", picture(0))
    write_all(tmp_path / "data" / "b", picture(1))
    bad = plant_undecodable(tmp_path / "data" / "a")
    bundle = bundle_of(tmp_path / "data")
    skipped = {Path(entry["path"]).name: entry["reason"] for entry in bundle.skipped}
    assert set(skipped) == {"corrupt.jpg", "garbage.tif"}
    assert all(reason.startswith("not a readable image") for reason in skipped.values())
    assert bundle.tags()["dataset.skipped_files"] == 2 == bundle.lineage()["skipped_files"]
    assert sum(bundle.counts.values()) == 2 * len(WRITERS)  # the planted files are not counted
    assert_splits_yield_their_counts(bundle)
    with pytest.raises(ValueError, match="(?s)strict=true and 2 bad image files.*corrupt.jpg"):
        bundle_of(tmp_path / "data", "dataset.strict=true")
    with pytest.raises(ValueError, match=str(bad[1])):
        bundle_of(tmp_path / "data", "dataset.strict=true")


def test_a_file_that_changes_after_the_scan(tmp_path: Path) -> None:
    """With the in-memory cache (the default) the scan decoded every file from the bytes it
    hashed, so the run trains on exactly those, whatever happens to a file afterwards; a
    pipeline that reads the files again (no cache, or a cache directory) fails naming a file
    that changed since its scan, instead of decoding something else or failing anonymously."""
    root = tmp_path / "data"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for index in range(4):
            Image.fromarray(picture(index % 2)).save(root / label / f"{index}.png")
    split = ("dataset.validation.source=none", "dataset.test_size=2")
    in_memory = bundle_of(root, *split)
    from_disk = bundle_of(root, *split, "dataset.cache=null")
    before = np.concatenate([images.numpy() for images, _ in in_memory.test])
    changed = root / "a" / "0.png"
    changed.write_bytes(changed.read_bytes()[:-20])  # truncated by a sync, say
    assert len(labels_of(in_memory.train)) == in_memory.counts["train"]
    after = np.concatenate([images.numpy() for images, _ in in_memory.test])
    np.testing.assert_array_equal(after, before)
    with pytest.raises(tf.errors.InvalidArgumentError, match="changed since the scan") as error:
        for split_data in (from_disk.train, from_disk.test):
            labels_of(split_data)
    assert str(changed) in str(error.value)


def test_predict_reads_every_format_and_names_the_undecodable(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "inputs"
    good = write_all(folder, picture(0))
    bad = plant_undecodable(folder)
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    flat = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(flat))
    model.save(tmp_path / "tiny.keras")
    (tmp_path / "class_names.json").write_text(json.dumps({"class_names": ["a", "b"]}))
    loaded = source.load(str(tmp_path / "tiny.keras"), "unused")
    files, problems = images.find_images([folder])
    predictions, unreadable = predictor.predict_files(loaded, files)
    assert problems == [] and sorted(p.path for p in predictions) == sorted(map(str, good))
    reasons = {p.path: p.message for p in unreadable}
    assert set(reasons) == set(map(str, bad))
    assert all(message.startswith("not a readable image") for message in reasons.values())
    code = predict_command.main([str(tmp_path / "tiny.keras"), str(folder), "-o", "json"])
    out, err = capsys.readouterr()
    assert code == predict_command.EXIT_SKIPPED and "Traceback" not in err
    assert len(json.loads(out)) == len(good)
    for path in bad:
        assert f"skipped {path}: not a readable image" in err


def test_scan_cache_entries_of_an_older_scan_are_rescanned(tmp_path: Path) -> None:
    path = tmp_path / "c" / "image.tif"
    path.parent.mkdir()
    Image.fromarray(picture(0)).save(path)
    key = scan_cache.file_key(str(path))
    old = {str(path): {"key": list(key), "info": ["TIFF", HEIGHT, WIDTH, "0" * 64]}}
    scan_cache.save(scan_cache.cache_file(tmp_path), old)
    (result,), _ = scan_cache.decode_folder([str(path)], tmp_path, (4, 4), 3, keep=False)
    assert result == scan.check_image(str(path)) and result.decoder == decode.PIL
    assert result.nbytes == path.stat().st_size
    (again,), _ = scan_cache.decode_folder([str(path)], tmp_path, (4, 4), 3, keep=False)
    assert again is not result and again == result  # now from the cache
