"""``imgexp-predict``: image files of any size and mode give what the trained model gives on the
same images read by Keras' own folder loader; bad inputs are named, skipped, and never stop the
rest."""

from __future__ import annotations

import csv
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import full_scan, run_cli, store_uri
from PIL import Image

from imgexp.cli import predict_command as cli
from imgexp.dataset.files import FileTable
from imgexp.dataset.pipeline import decoded_files
from imgexp.predict import images, predictor, source

NEW_PHOTOS = Path("/work/shared/data/photos/new_photos")
# (file name, Pillow mode, size): other sizes, channel layouts and formats than the 8x8 digits.
VARIANTS = [
    ("gray_8x8.png", "L", (8, 8)),
    ("gray.png", "L", (24, 24)),
    ("wide_rgb.png", "RGB", (16, 11)),
    ("photo.jpg", "RGB", (40, 40)),  # decoded at 1/4 scale by libjpeg, as in training
    ("large.jpg", "L", (70, 90)),
    ("bitmap.bmp", "RGB", (8, 8)),
    ("palette.gif", "P", (20, 20)),
    ("alpha.png", "RGBA", (10, 10)),
    ("gray_alpha.png", "LA", (12, 12)),
    ("sixteen_bit.png", "I;16", (9, 9)),
    ("lossless.webp", "RGB", (13, 13)),
]
SAVE_OPTIONS = {".jpg": {"quality": 95}, ".webp": {"lossless": True}}


@pytest.fixture(scope="module")
def loaded(trained_digits) -> source.LoadedModel:
    home, result = trained_digits
    return source.load(f"runs:/{result.run_id}/model", store_uri(home))


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real digits written as image files of other sizes, modes and formats."""
    from sklearn.datasets import load_digits

    digits = np.round(load_digits().images[: len(VARIANTS)] * 255 / 16).astype(np.uint8)
    folder = tmp_path_factory.mktemp("digit-files")
    for pixels, (name, mode, size) in zip(digits, VARIANTS, strict=True):
        image = Image.fromarray(pixels, "L").resize(size, Image.Resampling.BICUBIC)
        if mode == "I;16":
            image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
        elif mode in ("RGB", "RGBA"):
            tint = np.stack([np.asarray(image)] * 3, -1) * np.array([1.0, 0.8, 0.6])
            image = Image.fromarray(tint.astype(np.uint8), "RGB").convert(mode)
        else:
            image = image.convert(mode)
        image.save(folder / name, **SAVE_OPTIONS.get(Path(name).suffix, {}))
    return folder


def training_pixels(paths: list[Path], size: tuple[int, int], channels: int) -> np.ndarray:
    """The pixels imgexp's folder-dataset pipeline makes of ``paths`` for training: the scan,
    then `pipeline.decoded_files` (the tf.data map every folder dataset uses)."""
    infos = full_scan([str(path) for path in paths])
    table = FileTable(
        [str(path) for path in paths], np.zeros(len(paths)), [info.format for info in infos],
        [(info.height, info.width) for info in infos], [info.sha256 for info in infos],
    )  # fmt: skip
    return np.stack([np.asarray(image) for image, _ in decoded_files(table, size, channels)])


def test_files_of_other_sizes_and_modes_predict_like_the_model_on_training_pixels(
    trained_digits, loaded, digit_files: Path
) -> None:
    _, result = trained_digits
    assert loaded.image_size == (8, 8) and loaded.channels == 1
    assert loaded.class_names == [str(digit) for digit in range(10)]
    files, problems = images.find_images([digit_files])
    assert problems == [] and len(files) == len(VARIANTS)
    reference = training_pixels(files, (8, 8), 1)
    expected = keras.ops.convert_to_numpy(result.model(reference))
    predictions, unreadable = predictor.predict_files(loaded, files)
    assert unreadable == []
    assert [p.path for p in predictions] == [str(path) for path in files]
    got = np.stack([p.probabilities for p in predictions])
    np.testing.assert_array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # Sanity against an independent reader: a plain PNG at the model's size, read by Pillow.
    plain = np.asarray(Image.open(digit_files / "gray_8x8.png"))[None, ..., None]
    np.testing.assert_allclose(
        got[[p.path for p in predictions].index(str(digit_files / "gray_8x8.png"))],
        keras.ops.convert_to_numpy(result.model(plain))[0], atol=1e-6,
    )  # fmt: skip


def test_webp_and_grayscale_for_an_rgb_model(tmp_path: Path) -> None:
    inputs = keras.Input((6, 6, 3), dtype="uint8")
    scaled = keras.layers.Rescaling(1 / 255)(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(scaled))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "rgb.keras")
    (tmp_path / "class_names.json").write_text(json.dumps({"class_names": ["a", "b", "c"]}))
    rgb = source.load(str(tmp_path / "rgb.keras"), "unused")
    assert (rgb.image_size, rgb.channels, rgb.class_names) == ((6, 6), 3, ["a", "b", "c"])
    gray = np.random.default_rng(0).integers(0, 256, (6, 6), dtype=np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "gray.png")
    colour = np.random.default_rng(1).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    Image.fromarray(colour, "RGB").save(tmp_path / "webp_named.JPG", format="WEBP", lossless=True)
    predictions, problems = predictor.predict_files(
        rgb, [tmp_path / "gray.png", tmp_path / "webp_named.JPG"]
    )
    assert problems == []
    as_rgb = np.repeat(gray[None, ..., None], 3, axis=-1)  # gray photo, RGB model: replicated
    resized = np.clip(np.round(tf.image.resize(colour, (6, 6)).numpy()), 0, 255).astype(np.uint8)
    expected = keras.ops.convert_to_numpy(model(np.stack([as_rgb[0], resized])))
    np.testing.assert_allclose([p.probabilities for p in predictions], expected, atol=1e-6)


def test_bad_files_in_a_folder_are_named_and_skipped(loaded, digit_files: Path, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = (digit_files / "photo.jpg").read_bytes()
    (folder / "good.jpg").write_bytes(good)
    (folder / "notes.jpg").write_text("not an image at all")
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    png = (digit_files / "gray.png").read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden: not even tried
    files, problems = images.find_images([folder, tmp_path / "missing.png"])
    assert [p.path for p in problems] == [str(tmp_path / "missing.png")]
    predictions, unreadable = predictor.predict_files(loaded, files)
    assert [Path(p.path).name for p in predictions] == ["good.jpg"]
    messages = {Path(p.path).name: p.message for p in unreadable}
    assert set(messages) == {"notes.jpg", "truncated.jpg", "truncated.png", "empty.png"}
    assert "not an image" in messages["notes.jpg"]
    assert "truncated" in messages["truncated.jpg"].lower()
    assert "truncated" in messages["truncated.png"].lower()


def png_header(path: Path, width: int, height: int) -> None:
    """A PNG that claims ``width`` x ``height`` pixels in a few bytes (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def test_decompression_bombs_are_refused_with_the_file_named(tmp_path: Path, digit_files):
    bomb = tmp_path / "bomb.png"
    png_header(bomb, 30_000, 30_000)
    with pytest.raises(images.ImageError, match=r"bomb\.png: refused as a possible decompression"):
        images.load_image(bomb, (8, 8), 1)
    with pytest.raises(images.ImageError, match="576 pixels"):  # 24 x 24 over a limit of 100
        images.load_image(digit_files / "gray.png", (8, 8), 1, max_pixels=100)
    assert images.load_image(digit_files / "gray.png", (8, 8), 1).shape == (8, 8, 1)


def test_unknown_run_model_name_version_and_path_are_named(trained_digits) -> None:
    home, _ = trained_digits
    uri = store_uri(home)
    with pytest.raises(source.ModelSourceError, match="run id 'feedbeef' not found"):
        source.load("runs:/feedbeef/model", uri)
    with pytest.raises(source.ModelSourceError, match=r"'nope' not found.*\['digits-tiny'\]"):
        source.load("models:/nope/1", uri)
    with pytest.raises(source.ModelSourceError, match=r"no version 9; versions: \[1\]"):
        source.load("models:/digits-tiny/9", uri)
    with pytest.raises(source.ModelSourceError, match="'model.h5': not a .keras file"):
        source.load("model.h5", uri)


def test_registered_version_loads_with_its_class_names(trained_digits, loaded) -> None:
    home, _ = trained_digits
    registered = source.load("models:/digits-tiny/1", store_uri(home))
    assert registered.class_names == loaded.class_names
    assert registered.run_id == loaded.run_id


def test_cli_outputs_and_exit_codes(trained_digits, digit_files: Path, tmp_path, capsys):
    home, result = trained_digits
    model = ["--tracking-uri", store_uri(home), f"runs:/{result.run_id}/model"]
    assert cli.main([*model, str(digit_files), "-o", "csv", "-k", "2"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 2 * len(VARIANTS) and {row["rank"] for row in rows} == {"1", "2"}
    files, _ = images.find_images([digit_files])
    expected = keras.ops.convert_to_numpy(result.model(training_pixels(files, (8, 8), 1)))
    by_file = dict(zip([str(path) for path in files], expected, strict=True))
    for row in rows:  # each file's two most probable classes, most probable first
        probabilities = by_file[row["file"]]
        index = int(np.argsort(-probabilities, kind="stable")[int(row["rank"]) - 1])
        assert row["class"] == str(index)
        assert float(row["probability"]) == pytest.approx(probabilities[index], abs=1e-6)
    (tmp_path / "bad.png").write_text("nope")
    code = cli.main(
        [*model, str(digit_files / "gray.png"), str(tmp_path / "bad.png"), "-o", "json"]
    )
    out, err = capsys.readouterr()
    assert code == cli.EXIT_SKIPPED
    assert f"skipped {tmp_path / 'bad.png'}: not an image" in err
    (record,) = json.loads(out)
    assert record["file"].endswith("gray.png") and len(record["top"]) == 3
    assert cli.main([*model, str(digit_files / "gray.png")]) == 0
    assert "top 1" in capsys.readouterr().out.splitlines()[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    assert cli.main([*model, str(empty)]) == 1
    err = capsys.readouterr().err
    assert "readme.txt: not an image" in err and f"no image could be read from {empty}" in err


@pytest.mark.skipif(not NEW_PHOTOS.is_dir(), reason="shared new_photos not available")
def test_real_new_photos_including_a_webp_named_jpg(loaded) -> None:
    files, problems = images.find_images([NEW_PHOTOS])
    predictions, unreadable = predictor.predict_files(loaded, files)
    assert problems == [] and unreadable == []
    assert {Path(p.path).name for p in predictions} >= {
        "crab-1.jpg",
        "cup-1.jpg",
        "crab-cup-1.JPG",
    }
    assert all(abs(float(p.probabilities.sum()) - 1) < 1e-4 for p in predictions)


@pytest.mark.slow
def test_help_imports_neither_tensorflow_nor_mlflow() -> None:
    code = (
        "import sys\n"
        "from imgexp.cli import predict_command as p, eval_command as e\n"
        "for parse in (p.parser, e.parser):\n"
        "    try:\n        parse().parse_args(['--help'])\n    except SystemExit:\n        pass\n"
        "assert 'tensorflow' not in sys.modules and 'mlflow' not in sys.modules, 'heavy import'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "imgexp predict" in done.stdout and "imgexp eval" in done.stdout


@pytest.mark.slow
def test_console_script(trained_digits, digit_files: Path) -> None:
    home, result = trained_digits
    done = run_cli(f"runs:/{result.run_id}/model", str(digit_files / "photo.jpg"), "-o", "json",
                   home=home, script="imgexp-predict")  # fmt: skip
    (record,) = json.loads(done.stdout)  # stdout holds only the JSON
    assert record["top"][0]["class"] in [str(digit) for digit in range(10)]
