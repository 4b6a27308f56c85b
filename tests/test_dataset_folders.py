"""Folder datasets on generated image files: layouts, class subsets, splits, bad files, channel
handling, reduced-size JPEG decode, lineage, and a 1-epoch training run through imgexp.train."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest
from helpers import store_uri
from PIL import Image

import imgexp
from imgexp.api import compose_config
from imgexp.dataset import decode
from imgexp.dataset.build import build_data
from imgexp.dataset.preprocessing import preprocessing_layers

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"
SIZE = [16, 16]


def built(*overrides: str, batch_size: int = 64):
    """A DataBundle exactly as `imgexp <overrides>` would build it."""
    cfg = compose_config(*overrides)
    return build_data(cfg.dataset, batch_size, seed=0)


def solid(index: int, label: int, mode: str = "RGB", size=(24, 20)) -> Image.Image:
    """A one-colour image whose red/green encode a file index and blue the class: decoded
    pixels tell which file an example came from (PNG is lossless, so exactly)."""
    colour = (index % 256, index // 256 * 40 + 10, 60 + 60 * label)
    return Image.new("RGB", size, colour).convert(mode)


def make_classes(root: Path, counts: dict[str, int], fmt: str = "PNG", start: int = 0) -> int:
    """``root/<class>/<n>.png`` files, numbered from ``start``; returns the next number."""
    index = start
    for label, (name, count) in enumerate(counts.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            solid(index, label).save(root / name / f"{index:04d}.{fmt.lower()}", fmt)
            index += 1
    return index


def examples(dataset) -> tuple[np.ndarray, np.ndarray]:
    """All images and labels of one pass (each pass of a training split is reshuffled)."""
    pairs = [(x.numpy(), y.numpy()) for x, y in dataset]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


def file_ids(dataset) -> list[int]:
    """The file numbers behind a split's examples (from the pixel encoding of `solid`)."""
    images = np.concatenate([x.numpy() for x, _ in dataset])
    return (images[:, 0, 0, 0].astype(int) + (images[:, 0, 0, 1].astype(int) - 10) // 40 * 256
            ).tolist()  # fmt: skip


def test_image_folder_splits_are_disjoint_and_cover_every_file(tmp_path: Path) -> None:
    make_classes(tmp_path / "data", {"b_cats": 30, "a_dogs": 20})
    bundle = built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}",
                   f"dataset.image_size={SIZE}", "dataset.test_size=0.2",
                   "dataset.validation.size=0.25")  # fmt: skip
    assert bundle.class_names == ["a_dogs", "b_cats"]  # sorted folder names
    assert bundle.counts == {"train": 30, "validation": 10, "test": 10}
    assert bundle.class_counts["test"] == {"a_dogs": 4, "b_cats": 6}  # stratified hold-out
    ids = {split: file_ids(getattr(bundle, split)) for split in ("train", "validation", "test")}
    assert sorted(ids["train"] + ids["validation"] + ids["test"]) == list(range(50))
    assert bundle.input_shape == (16, 16, 3) and bundle.sample.shape == (8, 16, 16, 3)
    # The same config splits the same way (seeded), so two runs see the same data.
    again = built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}",
                  f"dataset.image_size={SIZE}", "dataset.test_size=0.2",
                  "dataset.validation.size=0.25")  # fmt: skip
    assert sorted(file_ids(again.test)) == sorted(ids["test"]) and again.digest == bundle.digest


def test_digest_is_content_based_not_location_based(tmp_path: Path) -> None:
    make_classes(tmp_path / "one", {"a": 6, "b": 6})
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    args = [f"dataset.image_size={SIZE}", "dataset.validation.source=none"]
    first = built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'one'}", *args)
    moved = built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'two'}", *args)
    assert first.digest == moved.digest and first.source != moved.source
    solid(99, 0).save(tmp_path / "two" / "a" / "0000.png")
    changed = built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'two'}", *args)
    assert changed.digest != first.digest


def test_bad_files_are_skipped_counted_and_never_crash(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_classes(root, {"a": 6, "b": 6}, fmt="JPEG")
    good = (root / "a" / "0000.jpeg").read_bytes()
    (root / "a" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "a" / "text.jpg").write_text("not an image")
    (root / "b" / "empty.png").write_bytes(b"")
    solid(7, 1).save(root / "b" / "png_named.jpg", "PNG")  # disguised formats are decoded
    solid(8, 1).save(root / "b" / "webp_named.JPG", "WEBP")
    solid(9, 1).save(root / "b" / "scan.tif", "TIFF")  # no TF decoder: the PIL path
    (root / "b" / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "b" / "notes.txt").write_text("ignored")
    bundle = built("dataset=image_folder", f"dataset.data_dir={root}",
                   f"dataset.image_size={SIZE}", "dataset.validation.source=none",
                   "dataset.test_size=3")  # fmt: skip
    assert sorted(Path(bad["path"]).name for bad in bundle.skipped) == [
        "empty.png",
        "text.jpg",
        "truncated.jpg",
    ]
    assert bundle.ignored_files == 2 and bundle.tags()["dataset.skipped_files"] == 3
    assert bundle.lineage()["skipped_files"] == 3
    assert sum(bundle.counts.values()) == 15  # 12 + PNG-as-jpg + WebP-as-JPG + TIFF
    for _ in range(2):  # two epochs: the scan removed the bad files, nothing fails mid-epoch
        assert sum(len(y) for _, y in bundle.train) == bundle.counts["train"]
    with pytest.raises(ValueError, match="(?s)strict=true and 3 bad image files.*truncated.jpg"):
        built("dataset=image_folder", f"dataset.data_dir={root}", "dataset.strict=true")


@pytest.mark.parametrize("color_mode,channels", [("rgb", 3), ("grayscale", 1)])
def test_mixed_modes_become_the_configured_channels(tmp_path: Path, color_mode: str,
                                                    channels: int) -> None:  # fmt: skip
    root = tmp_path / "data"
    for label, name in enumerate(["x", "y"]):
        (root / name).mkdir(parents=True)
        for mode in ("RGB", "L", "RGBA", "P", "LA", "CMYK"):
            fmt = "JPEG" if mode in ("CMYK", "L") else "PNG"
            solid(10 * label, label, mode).save(root / name / f"{mode}.{fmt.lower()}", fmt)
    bundle = built("dataset=image_folder", f"dataset.data_dir={root}",
                   f"dataset.image_size={SIZE}", f"dataset.color_mode={color_mode}",
                   "dataset.validation.source=none", "dataset.test_size=2")  # fmt: skip
    images = np.concatenate([examples(bundle.train)[0], examples(bundle.test)[0]])
    assert images.shape == (12, 16, 16, channels) and images.dtype == np.uint8
    assert not bundle.skipped and bundle.input_shape == (16, 16, channels)
    # Each file decodes to the colour PIL converts it to (alpha dropped, palette expanded).
    expected = [
        np.asarray(Image.open(path).convert("RGB" if channels == 3 else "L"), int)[0, 0]
        for path in sorted(root.rglob("*.*"))
    ]
    decoded = images[:, 0, 0, :].astype(int)
    for colour in expected:
        assert np.abs(decoded - colour).max(axis=-1).min() <= 8  # JPEG, CMYK conversion


def test_missing_directory_names_path_and_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'nope'}")
    message = str(info.value)
    assert str(tmp_path / "nope") in message and "<root>/<class>/*.jpg" in message
    assert "<root>/train/<class>" in message
    with pytest.raises(ValueError, match="needs dataset.data_dir=<root>"):
        built("dataset=image_folder")


def test_class_folder_without_images_is_named(tmp_path: Path) -> None:
    make_classes(tmp_path / "data", {"a": 4})
    (tmp_path / "data" / "empty_class").mkdir()
    (tmp_path / "data" / "empty_class" / "readme.txt").write_text("nothing here")
    with pytest.raises(ValueError, match=r"class folder .*empty_class holds no image files"):
        built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}")
    (tmp_path / "data" / "empty_class" / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.raises(ValueError, match=r"empty_class.*holds no readable image"):
        built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}")


def test_class_subset_in_given_order_and_unknown_names(tmp_path: Path) -> None:
    make_classes(tmp_path / "data", {"ant": 5, "crab": 6, "cup": 7})
    bundle = built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}",
                   "dataset.classes=[cup,crab]", f"dataset.image_size={SIZE}",
                   "dataset.validation.source=none", "dataset.test_size=4")  # fmt: skip
    assert bundle.class_names == ["cup", "crab"] and sum(bundle.counts.values()) == 13
    images, labels = examples(bundle.train)
    assert ((images[:, 0, 0, 2] == 180) == (labels == 0)).all()  # cup (3rd folder) is label 0
    with pytest.raises(ValueError, match=r"\['crabs'\] not found .*\['ant', 'crab', 'cup'\]"):
        built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}",
              "dataset.classes=[crabs,cup]")  # fmt: skip


def test_chest_xray_kaggle_layout_with_val_dir(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "kaggle" / "chest_xray"
    counts = {"NORMAL": 6, "PNEUMONIA": 9}
    start = make_classes(root / "train", counts, fmt="JPEG")
    start = make_classes(root / "val", {"NORMAL": 2, "PNEUMONIA": 2}, fmt="JPEG", start=start)
    make_classes(root / "test", {"NORMAL": 3, "PNEUMONIA": 4}, fmt="JPEG", start=start)
    (root / "__MACOSX").mkdir()
    (root / ".DS_Store").write_bytes(b"\x00")
    monkeypatch.setenv("IMGEXP_DATA_DIR", str(tmp_path / "kaggle"))  # $IMGEXP_DATA_DIR/chest_xray
    bundle = built("dataset=chest_xray", f"dataset.image_size={SIZE}")
    assert bundle.source == str(root.resolve())
    assert bundle.class_names == ["NORMAL", "PNEUMONIA"]
    assert bundle.counts == {"train": 15, "validation": 4, "test": 7}
    assert bundle.class_counts["test"] == {"NORMAL": 3, "PNEUMONIA": 4}
    monkeypatch.delenv("IMGEXP_DATA_DIR")
    with pytest.raises(FileNotFoundError, match="kaggle.com/datasets/paultimothymooney"):
        built("dataset=chest_xray", f"dataset.data_dir={tmp_path / 'elsewhere'}")


def test_flowers_accepts_kaggle_singular_folder_names(tmp_path: Path) -> None:
    make_classes(tmp_path / "flowers", {"daisy": 5, "rose": 5, "tulip": 5, "dandelion": 5})
    bundle = built("dataset=flowers", f"dataset.data_dir={tmp_path / 'flowers'}",
                   "dataset.classes=[daisy,roses,tulips]", f"dataset.image_size={SIZE}",
                   "dataset.validation.source=none", "dataset.test_size=3")  # fmt: skip
    assert bundle.class_names == ["daisy", "roses", "tulips"]
    assert bundle.class_counts["train"] == {"daisy": 4, "roses": 4, "tulips": 4}


def test_caltech101_finds_object_categories_and_leaves_background_out(tmp_path: Path) -> None:
    make_classes(tmp_path / "caltech-101" / "101_ObjectCategories",
                 {"BACKGROUND_Google": 4, "crab": 5, "cup": 5})  # fmt: skip
    bundle = built("dataset=caltech101", f"dataset.data_dir={tmp_path}",
                   f"dataset.image_size={SIZE}", "dataset.validation.source=none",
                   "dataset.test_size=2")  # fmt: skip
    assert bundle.class_names == ["crab", "cup"]
    assert bundle.source.endswith("caltech-101/101_ObjectCategories")


def test_jpeg_ratio_keeps_at_least_the_target_size() -> None:
    assert decode.jpeg_ratio(3000, 4000, (224, 224)) == 8
    assert decode.jpeg_ratio(1200, 1600, (200, 200)) == 4
    assert decode.jpeg_ratio(240, 320, (200, 200)) == 1
    assert decode.jpeg_ratio(401, 401, (200, 200)) == 2  # ceil(401 / 2) = 201


def test_reduced_size_decode_matches_a_full_decode(tmp_path: Path) -> None:
    rows, cols = np.mgrid[0:640, 0:800]
    gradient = np.stack([rows * 255 // 640, cols * 255 // 800, (rows + cols) % 256 // 2], -1)
    for name in ("a", "b", "a2", "b2"):
        (tmp_path / "data" / name[0]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(gradient.astype(np.uint8)).save(tmp_path / "data" / name[0] /
                                                        f"{name}.jpg", quality=95)  # fmt: skip
    bundle = built("dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}",
                   "dataset.image_size=[64,80]", "dataset.validation.source=none",
                   "dataset.test_size=2")  # fmt: skip
    reference = np.asarray(Image.fromarray(gradient.astype(np.uint8)).resize((80, 64),
                           Image.BILINEAR), dtype=float)  # fmt: skip
    decoded = next(iter(bundle.train))[0].numpy()[0].astype(float)
    assert np.abs(decoded - reference).mean() < 4  # decoded at 1/8 scale, then resized


def test_normalize_adapts_on_the_training_split_only(tmp_path: Path) -> None:
    make_classes(tmp_path / "data", {"a": 8, "b": 8})
    cfg = compose_config("dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}",
                         f"dataset.image_size={SIZE}", "dataset.normalize=true",
                         "dataset.validation.source=none", "dataset.test_size=4")  # fmt: skip
    bundle = build_data(cfg.dataset, 4, seed=0)
    layers = preprocessing_layers(cfg.dataset, bundle.adapt_data)
    train = np.concatenate([x.numpy() for x, _ in bundle.train]).astype(float) / 255
    mean = np.asarray(layers[-1].mean).ravel()
    np.testing.assert_allclose(mean, train.mean(axis=(0, 1, 2)), atol=1e-4)


def test_file_cache_is_written_and_reused(tmp_path: Path) -> None:
    make_classes(tmp_path / "data", {"a": 5, "b": 5})
    args = ["dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}",
            f"dataset.image_size={SIZE}", f"dataset.cache={tmp_path / 'cache'}",
            "dataset.validation.source=none", "dataset.test_size=2"]  # fmt: skip
    first = built(*args)
    ids = sorted(file_ids(first.train))
    cache_files = sorted(path.name for path in (tmp_path / "cache").iterdir())
    assert any(
        name.startswith(f"image_folder-{first.digest}-train-16x16x3") for name in cache_files
    )
    assert sorted(file_ids(built(*args).train)) == ids  # a second run reads the cache


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="shared real photos not available")
def test_real_flowers_and_caltech_photos(tmp_path: Path) -> None:
    flowers = built(
        "dataset=flowers",
        f"dataset.data_dir={PHOTOS / 'flowers'}",
        "dataset.classes=[daisy,roses,tulips]",
        "dataset.image_size=[32,32]",
    )
    assert flowers.class_names == ["daisy", "roses", "tulips"] and not flowers.skipped
    assert sum(flowers.counts.values()) == 120
    caltech = built(
        "dataset=caltech101",
        f"dataset.data_dir={PHOTOS / 'caltech101'}",
        "dataset.image_size=[32,32]",
        "dataset.color_mode=grayscale",
    )
    assert len(caltech.class_names) == 8 and caltech.input_shape == (32, 32, 1)
    assert sum(caltech.counts.values()) == 45


def test_train_one_epoch_on_an_image_folder_logs_lineage(
    tmp_path: Path, isolated_home: Path, recwarn: pytest.WarningsRecorder
) -> None:
    root = tmp_path / "data"
    make_classes(root, {"dark": 12, "light": 12}, fmt="JPEG")
    (root / "dark" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0broken")
    result = imgexp.train("dataset=image_folder", f"dataset.data_dir={root}",
                          f"dataset.image_size={SIZE}", "model=cnn", "trainer.epochs=1",
                          "trainer.batch_size=8", "tracking.log_model=false")  # fmt: skip
    assert np.isfinite(result.metrics["test_loss"])
    # an epoch ending with the folder's data is normal: no Keras "ran out of data" warning
    assert not [w for w in recwarn if "ran out of data" in str(w.message)]
    run = mlflow.MlflowClient(store_uri(isolated_home)).get_run(result.run_id)
    assert run.data.tags["dataset"] == "image_folder"
    assert run.data.tags["dataset.skipped_files"] == "1"
    assert run.data.tags["dataset.n_train"] == "15"  # 24 good - 5 test - 4 validation
    lineage = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/dataset.json")
    assert lineage["class_names"] == ["dark", "light"] and lineage["skipped_files"] == 1
    assert sum(lineage["class_counts"]["test"].values()) == lineage["counts"]["test"] == 5


@pytest.mark.parametrize("source", ["folder", "arrays"])
def test_the_batches_training_iterates_skip_tf_data_s_graph_rewrites(
    tmp_path: Path, source: str
) -> None:
    """Batches gathered from one tensor of every image must reach the trainer without tf.data's
    default graph rewrites: each rewrite serialises the dataset's graph, copying that tensor
    (the whole in-memory cache) once per split (benchmarks/README.md, section 7). The option
    has to survive what is mapped on afterwards (a seeded, ordered MixUp)."""
    from imgexp.augmentation.layers import augment_training

    if source == "folder":
        make_classes(tmp_path / "data", {"a": 12, "b": 12})
        data = ["dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}"]
    else:
        data = ["dataset=synthetic", "dataset.classes=[a,b]"]
    cfg = compose_config(*data, f"dataset.image_size={SIZE}", "dataset.test_size=0.25",
                         "augmentation=mixup", "augmentation.seed=1")  # fmt: skip
    bundle = augment_training(cfg.augmentation, build_data(cfg.dataset, 8, seed=0), True)
    for split in ("train", "validation", "test"):
        dataset = getattr(bundle, split)
        assert dataset.options().experimental_optimization.apply_default_optimizations is False
        assert sum(len(labels) for _, labels in dataset) == bundle.counts[split]
