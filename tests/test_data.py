from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from maskgit_lib.config import DEFAULT_AVATAR_STYLES, load_config
from maskgit_lib.data import avatars, folders, kaggle_source, prepared
from maskgit_lib.data.batches import ImageArrayDataset, make_dataloader
from maskgit_lib.data.prepared import DataError, prepare_data, split_indices


def small_avatars(**changes):
    cfg = load_config("fast").data
    cfg.n_train, cfg.n_val = 24, 8
    for key, value in changes.items():
        setattr(cfg, key, value)
    return cfg


def test_avatars_are_deterministic_and_cached(data_home, tmp_path, monkeypatch):
    first = prepare_data(small_avatars(), progress=False)
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(tmp_path / "elsewhere"))
    second = prepare_data(small_avatars(), progress=False)
    assert first.folder != second.folder
    np.testing.assert_array_equal(first.train_images, second.train_images)
    np.testing.assert_array_equal(first.val_images, second.val_images)
    np.testing.assert_array_equal(first.train_labels, second.train_labels)
    # a second call with the same arguments reads the cache and renders nothing
    monkeypatch.setattr(avatars, "render_split", lambda *a, **k: pytest.fail("rendered again"))
    third = prepare_data(small_avatars(), progress=False)
    np.testing.assert_array_equal(second.train_images, third.train_images)


def test_avatars_shape_classes_and_white_background(data_home):
    prepared = prepare_data(small_avatars(), progress=False)
    assert len(DEFAULT_AVATAR_STYLES) >= 6
    assert prepared.train_images.shape == (24, 32, 32, 3) and prepared.train_images.dtype == np.uint8
    assert prepared.val_images.shape == (8, 32, 32, 3)
    assert prepared.class_names == list(DEFAULT_AVATAR_STYLES)
    assert set(prepared.class_counts("train").values()) == {3}  # 24 images, 8 styles, balanced
    corners = prepared.train_images[:, [0, 0, -1], [0, -1, 0]]  # (N, 3, 3): top-left, top-right, bottom-left
    assert np.median(corners) == 255
    assert prepared.train_images.std() > 30  # real drawings, not blank tiles
    # train and val images are different avatars
    assert not any((prepared.val_images[i] == prepared.train_images).all(axis=(1, 2, 3)).any() for i in range(8))


def test_other_seed_or_size_gets_other_images(data_home):
    base = prepare_data(small_avatars(), progress=False)
    reseeded = prepare_data(small_avatars(seed=1), progress=False)
    bigger = prepare_data(small_avatars(image_size_px=64), progress=False)
    assert base.folder != reseeded.folder != bigger.folder
    assert not np.array_equal(base.train_images, reseeded.train_images)
    assert bigger.train_images.shape[1:] == (64, 64, 3)


def test_rendering_does_not_depend_on_worker_count(monkeypatch):
    monkeypatch.setattr(avatars, "_CHUNK", 5)
    monkeypatch.setattr(avatars, "_MIN_IMAGES_FOR_WORKERS", 0)
    styles = ["pixel-art", "lorelei", "micah"]
    one = avatars.render_split(styles, 12, 32, seed=3, split="train", progress=False, workers=1)
    two = avatars.render_split(styles, 12, 32, seed=3, split="train", progress=False, workers=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], np.arange(12) % 3)


def test_unknown_style_lists_valid_ones(data_home):
    with pytest.raises(DataError, match="unknown avatar style 'lorelai'.*lorelei"):
        prepare_data(small_avatars(styles=["lorelai"]), progress=False)


def test_every_style_has_a_licence():
    for style in DEFAULT_AVATAR_STYLES:
        licence = avatars.style_licence(style)
        assert licence["licence"] in {"CC0 1.0", "CC BY 4.0"}, licence
        assert licence["attribution"]


def test_image_size_must_suit_the_tokenizer(data_home):
    with pytest.raises(DataError, match="multiple of 8"):
        prepare_data(small_avatars(image_size_px=30), progress=False)


def test_interrupted_write_leaves_no_cache(data_home, monkeypatch):
    calls = {"n": 0}
    real_save = np.save

    def flaky_save(path, array):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real_save(path, array)

    monkeypatch.setattr(np, "save", flaky_save)
    with pytest.raises(KeyboardInterrupt):
        prepare_data(small_avatars(), progress=False)
    assert not (prepared.cache_folder(small_avatars()) / "meta.json").exists()
    monkeypatch.setattr(np, "save", real_save)
    assert len(prepare_data(small_avatars(), progress=False).train_images) == 24


# ---------------------------------------------------------------- image folders


def make_messy_tree(root):
    """Two classes of good images in every awkward mode, plus a truncated JPEG and a text file."""
    rng = np.random.default_rng(0)
    cats, dogs = root / "cats", root / "dogs"
    cats.mkdir(parents=True)
    dogs.mkdir()
    rgb = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    rgb.save(cats / "wide.jpg")
    rgb.convert("L").save(cats / "gray.png")
    rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(cats / "palette.gif")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(0)  # fully transparent: must come out white
    rgba.save(dogs / "clear.png")
    rgb.convert("CMYK").save(dogs / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 255, (50, 30, 3), dtype=np.uint8)).save(dogs / "tall.jpg")
    (dogs / "broken.jpg").write_bytes((cats / "wide.jpg").read_bytes()[:300])
    (dogs / "notes.txt").write_text("not an image")
    return root


def folder_config(path, **changes):
    cfg = load_config("fast").data
    cfg.dataset, cfg.path, cfg.val_fraction = "folder", None if path is None else str(path), 0.0
    for key, value in changes.items():
        setattr(cfg, key, value)
    return cfg


def test_folder_keeps_good_images_and_warns_once_with_count(data_home, tmp_path):
    root = make_messy_tree(tmp_path / "pets")
    with pytest.warns(folders.SkippedFilesWarning) as caught:
        prepared = prepare_data(folder_config(root), progress=False)
    assert len(caught) == 1
    assert "skipped 2 of 8 files" in str(caught[0].message)
    assert prepared.class_names == ["cats", "dogs"]
    assert prepared.class_counts() == {"cats": 3, "dogs": 3}
    assert prepared.train_images.shape == (6, 32, 32, 3) and prepared.train_images.dtype == np.uint8
    assert prepared.meta["skipped_files"] == 2


def test_every_mode_becomes_rgb(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (10, 20, 30, 0))
    assert folders.to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)
    for mode in ("L", "P", "CMYK", "LA", "I;16", "F", "1"):
        converted = folders.to_rgb(Image.new("RGB", (8, 8), (200, 100, 50)).convert(mode))
        assert converted.mode == "RGB", mode


def test_centre_crop_then_resize(tmp_path):
    pixels = np.zeros((20, 60, 3), dtype=np.uint8)
    pixels[:, 20:40] = 255  # a white square in the middle of a black strip
    Image.fromarray(pixels).save(tmp_path / "strip.png")
    square = folders.load_image(tmp_path / "strip.png", 16)
    assert square.shape == (16, 16, 3)
    assert square.min() > 240  # only the centre square survives the crop


def test_kaggle_celebrity_layout_gives_celebrity_classes(data_home, tmp_path):
    """Same layout as the Kaggle archive: 'Celebrity Faces Dataset/<name>/<n>.jpg'."""
    archive = data_home / "downloads" / "celebrity-faces" / "Celebrity Faces Dataset"
    rng = np.random.default_rng(1)
    for name in ("Angelina Jolie", "Brad Pitt", "Denzel Washington"):
        (archive / name).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)).save(archive / name / f"{i:03d}.jpg")
    cfg = folder_config(None, dataset="celebrity-faces", val_fraction=0.2)
    prepared = prepare_data(cfg, progress=False)  # the download exists: no network, no credentials needed
    assert prepared.class_names == ["Angelina Jolie", "Brad Pitt", "Denzel Washington"]
    assert prepared.class_counts("train") == {n: 4 for n in prepared.class_names}
    assert prepared.class_counts("val") == {n: 1 for n in prepared.class_names}


def test_celeba_layout_is_one_class(tmp_path):
    inner = tmp_path / "celeba" / "img_align_celeba" / "img_align_celeba"
    inner.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (178, 218), (i, i, i)).save(inner / f"{i:06d}.jpg")
    found = folders.scan_folder(tmp_path / "celeba")
    assert found.class_names == ["img_align_celeba"] and len(found.files) == 3


def test_missing_folder_is_a_clear_error(data_home, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        prepare_data(folder_config(tmp_path / "nowhere"), progress=False)
    with pytest.raises(DataError, match="needs --path"):
        prepare_data(folder_config(None), progress=False)


def test_split_is_stratified_disjoint_and_complete():
    labels = np.repeat(np.arange(4), [10, 20, 2, 1])
    train, val = split_indices(labels, 0.1, seed=0)
    assert set(train).isdisjoint(val) and len(train) + len(val) == len(labels)
    assert np.bincount(labels[val], minlength=4).tolist() == [1, 2, 1, 0]


# ---------------------------------------------------------------- Kaggle


@pytest.fixture
def no_kaggle_credentials(tmp_path, monkeypatch):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "home" / ".kaggle"))


def test_kaggle_without_credentials_is_one_clear_line(no_kaggle_credentials, data_home, capsys):
    cfg = folder_config(None, dataset="celebrity-faces")
    with pytest.raises(DataError) as err:
        prepare_data(cfg, progress=False)
    assert str(err.value) == kaggle_source.CREDENTIALS_HELP
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # the package's banner does not leak
    assert not (data_home / "downloads" / "celebrity-faces").exists()


def test_kaggle_download_failure_is_explained(data_home, monkeypatch):
    class FakeApi:
        def dataset_download_files(self, *args, **kwargs):
            raise ConnectionError("Max retries exceeded: Failed to resolve 'api.kaggle.com'")

    monkeypatch.setattr(kaggle_source, "_authenticated_api", FakeApi)
    with pytest.raises(DataError, match="could not reach Kaggle.*--dataset folder --path DIR"):
        prepare_data(folder_config(None, dataset="celeba"), progress=False)
    assert not any((data_home / "downloads").glob("*")), "a failed download must leave nothing behind"


# ---------------------------------------------------------------- tensors


def test_dataloader_gives_normalised_batches(data_home):
    prepared = prepare_data(small_avatars(), progress=False)
    loader = make_dataloader(prepared, "train", batch_size=10)
    batches = list(loader)
    assert len(batches) == 2  # 24 images, full batches only while training
    images_batch, labels = batches[0]
    assert images_batch.shape == (10, 3, 32, 32) and images_batch.dtype == torch.float32
    assert labels.shape == (10,) and labels.dtype == torch.int64
    assert images_batch.min() >= -1 and images_batch.max() <= 1 and images_batch.max() == 1
    val = list(make_dataloader(prepared, "val", batch_size=5))
    assert sum(len(b[1]) for b in val) == 8  # validation keeps every image, in order
    first = torch.from_numpy(np.array(prepared.val_images[0])).permute(2, 0, 1).float() / 127.5 - 1
    torch.testing.assert_close(val[0][0][0], first)


def test_training_flips_are_seeded_and_real(data_home):
    prepared = prepare_data(small_avatars(), progress=False)
    dataset = ImageArrayDataset(prepared.train_images, prepared.train_labels, hflip=True)
    torch.manual_seed(0)
    views = torch.stack([dataset[0][0] for _ in range(16)])
    plain = ImageArrayDataset(prepared.train_images, prepared.train_labels)[0][0]
    flipped = [torch.equal(v, plain.flip(-1)) for v in views]
    unflipped = [torch.equal(v, plain) for v in views]
    assert all(a or b for a, b in zip(flipped, unflipped, strict=True)) and any(flipped) and any(unflipped)
