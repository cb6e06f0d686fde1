"""The data layer of `agqc train` (agqc/train/core/data.py and datafiles.py): datasets on real data, transforms,
augmentations and batches."""
from __future__ import annotations

import ast
import gzip
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agqc.train.core import data, datafiles
from agqc.train.core.data import DATASETS, DataMissing, Field

CORE = Path(data.__file__).parent
DIGITS_CSV = datafiles.package_file(*data.DIGITS_CSV)
MNIST_CSV = datafiles.package_file(*data.MNIST_CSV)


# ---- files the tests write: tiny versions of each kind the datasets read ----------------------------------------

def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)


def write_mnist_folder(folder: Path, train: int = 12, test: int = 5) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", train), ("t10k", test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n), gz=True)  # gzipped: both read
    return folder


def write_image_folder(folder: Path, per_class: int = 6) -> Path:
    from PIL import Image
    for c, name in enumerate(["cat", "ant", "bee"]):  # sorted: ant 0, bee 1, cat 2
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((10, 14, 3), 40 * c + i, dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i:02d}.png")
    (folder / "cat" / "notes.txt").write_text("not an image")
    return folder


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.fixture
def cases(tmp_path) -> dict[str, list[dict]]:
    """Parameters for every dataset, with the files they name written to tmp_path."""
    rng = np.random.default_rng(1)
    text = tmp_path / "story.txt"
    text.write_text("Once upon a time, a small model learnt to spell. " * 20, encoding="utf-8")
    npz = write_npz(tmp_path / "arrays.npz", images=rng.integers(0, 256, (30, 1, 6, 6), dtype=np.uint8),
                    labels=rng.integers(0, 3, 30), extra=rng.normal(size=(30, 4)))
    return {
        "digits": [{}],
        "mnist": [{}, {"path": str(write_mnist_folder(tmp_path / "mnist"))}],
        "sine": [{}, {"window": 8, "count": 50, "waveform": "mixed", "noise": 0.1}],
        "sequences": [{"vocab": 7, "context": 5, "count": 40}],
        "text": [{"path": str(text), "context": 16}],
        "npz": [{"path": str(npz)}],
        "image_folder": [{"path": str(write_image_folder(tmp_path / "images")), "size": 9, "channels": 3}],
    }


# ---- imports -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["data.py", "datafiles.py", "schema.py", "transforms.py"])
def test_core_data_imports_only_the_standard_library_and_torch(module):
    allowed = sys.stdlib_module_names | {"torch"}
    for node in ast.walk(ast.parse((CORE / module).read_text())):
        if isinstance(node, ast.Import):
            roots = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # between the core modules, relative imports only
                assert node.level == 1 and (CORE / f"{node.module}.py").is_file(), ast.unparse(node)
                continue
            roots = [node.module.split(".")[0]]
        else:
            continue
        # Pillow only where an image file is decoded, imported there
        assert all(r in allowed for r in roots) or roots == ["PIL"] and node.col_offset > 0, ast.unparse(node)
    assert "numpy" not in (CORE / module).read_text().replace("numpy.savez", "").replace("NumPy", "")


def test_check_time_calls_import_no_torch(cases):
    """`agqc check` never imports torch: describe() and every reshape() must not either."""
    code = f"""
import sys
from agqc.train.core import data
for name, params in {cases!r}.items():
    for p in params:
        data.describe(name, p)
f = data.Field("float", (1, 8, 8))
for name, p in (("resize", {{"h": 4, "w": 4}}), ("pad", {{"n": 1}}), ("flatten", {{}}), ("normalise", {{}})):
    data.TRANSFORMS[name].reshape(p, f)
for a in data.AUGMENTATIONS.values():
    a.reshape({{}}, f)
print(sorted(m for m in ("torch", "numpy", "sklearn", "mlxtend", "PIL") if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


# ---- the bundled datasets ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, side, sizes", [("digits", 8, (1437, 360)), ("mnist", 28, (4000, 1000))])
def test_bundled_digits_load_with_fixed_disjoint_splits(name, side, sizes):
    path = DIGITS_CSV if name == "digits" else MNIST_CSV
    table = datafiles.read_csv_gz(path)
    scale = 16.0 if name == "digits" else 255.0
    for split, size in zip(("train", "test"), sizes):
        d = data.load(name, {}, split)
        assert set(d) == {"images", "labels"}
        assert d["images"].shape == (size, 1, side, side) and d["images"].dtype == torch.float32
        assert d["labels"].shape == (size,) and d["labels"].dtype == torch.int64
        assert d["images"].min() == 0 and d["images"].max() == 1
        assert set(d["labels"].tolist()) == set(range(10))
        rows = data.fixed_split(len(table), split)  # the rows of the file each split holds, labels last
        assert torch.equal(d["images"].flatten(1), table[rows, :-1].float() / scale)
        assert torch.equal(d["labels"], table[rows, -1].long())
    train, test = data.fixed_split(len(table), "train"), data.fixed_split(len(table), "test")
    assert not set(train.tolist()) & set(test.tolist())
    assert sorted(train.tolist() + test.tolist()) == list(range(len(table)))


def test_the_split_does_not_depend_on_the_training_seed():
    torch.manual_seed(1)
    a = data.load("digits", {}, "test")
    torch.manual_seed(2)
    b = data.load("digits", {}, "test")
    assert torch.equal(a["images"], b["images"]) and torch.equal(a["labels"], b["labels"])


def test_loaded_tensors_are_copies_of_the_cache(tmp_path):
    folder = str(write_mnist_folder(tmp_path / "mnist"))
    for name, params in (("digits", {}), ("mnist", {"path": folder})):
        data.load(name, params, "train")["images"].add_(5)
        assert data.load(name, params, "train")["images"].max() <= 1


def test_mnist_reads_the_idx_files_of_a_folder(tmp_path):
    folder = write_mnist_folder(tmp_path / "mnist", train=12, test=5)
    images = np.frombuffer((folder / "train-images-idx3-ubyte").read_bytes()[16:], dtype=np.uint8)
    d = data.load("mnist", {"path": str(folder)}, "train")
    assert d["images"].shape == (12, 1, 28, 28)
    assert len(data.load("mnist", {"path": str(folder)}, "test")["labels"]) == 5
    assert torch.equal(d["images"].flatten(), torch.from_numpy(images.astype(np.float32)) / 255)


# ---- every dataset: describe() agrees with load() ----------------------------------------------------------------

def test_every_dataset_has_a_test_case_and_a_licence(cases):
    assert set(cases) == set(DATASETS)
    for d in DATASETS.values():
        assert d.doc and d.licence and d.name in DATASETS


def test_describe_agrees_with_load_for_every_dataset(cases):
    for name, params_list in cases.items():
        for params in params_list:
            fields = data.describe(name, params)
            for split in ("train", "test"):
                loaded = data.load(name, params, split)
                assert set(loaded) == set(fields), (name, params)
                lengths = {len(t) for t in loaded.values()}
                assert len(lengths) == 1 and lengths.pop() > 0, (name, split)
                for field, f in fields.items():
                    t = loaded[field]
                    assert tuple(t.shape[1:]) == f.shape, (name, field, split)
                    assert t.dtype == (torch.float32 if f.dtype == "float" else torch.int64), (name, field)
                    if f.classes is not None:
                        assert 0 <= t.min() and t.max() < f.classes, (name, field)


def test_the_image_folder_labels_sorted_subfolders_and_tests_every_fifth(tmp_path):
    folder = str(write_image_folder(tmp_path / "images", per_class=6))
    assert data.describe("image_folder", {"path": folder})["labels"].classes == 3
    train = data.load("image_folder", {"path": folder, "size": 5}, "train")
    test = data.load("image_folder", {"path": folder, "size": 5}, "test")
    assert train["labels"].tolist() == [0] * 5 + [1] * 5 + [2] * 5 and test["labels"].tolist() == [0, 1, 2]
    assert train["images"].shape == (15, 1, 5, 5) and test["images"].shape == (3, 1, 5, 5)
    # "ant" is class 0; its image 04.png (the 5th) holds the grey value 40 * 1 + 4 ("ant" was written second)
    assert test["images"][0].mean().item() == pytest.approx(44 / 255, abs=1e-2)


def test_npz_uses_test_arrays_when_there_are_some_and_the_last_rows_otherwise(tmp_path):
    x, y = np.arange(40, dtype=np.float64).reshape(10, 2, 2), np.arange(10)
    plain = write_npz(tmp_path / "plain.npz", x=x, y=y)
    assert data.describe("npz", {"path": str(plain)}) == {"x": Field("float", (2, 2)), "y": Field("int", ())}
    assert data.load("npz", {"path": str(plain)}, "train")["y"].tolist() == list(range(8))
    assert data.load("npz", {"path": str(plain)}, "test")["y"].tolist() == [8, 9]
    keras = write_npz(tmp_path / "keras.npz", x_train=np.zeros((4, 3, 3), np.uint8), y_train=np.arange(4),
                      x_test=np.full((2, 3, 3), 255, np.uint8), y_test=np.arange(2))
    test = data.load("npz", {"path": str(keras)}, "test")
    assert test["x"].dtype == torch.float32 and test["x"].min() == 1 and test["y"].tolist() == [0, 1]
    fortran = write_npz(tmp_path / "fortran.npz", m=np.asfortranarray(np.arange(30).reshape(5, 6)))
    assert data.load("npz", {"path": str(fortran)}, "train")["m"].tolist() == np.arange(24).reshape(4, 6).tolist()
    uneven = write_npz(tmp_path / "uneven.npz", x=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(DataMissing, match="same number of rows"):
        data.describe("npz", {"path": str(uneven)})
    half = write_npz(tmp_path / "half.npz", x=np.zeros((5, 2)), y=np.zeros(5), x_test=np.zeros((2, 2)))
    with pytest.raises(DataMissing, match="x_test"):
        data.describe("npz", {"path": str(half)})


def test_sine_targets_continue_their_windows_and_the_test_phases_differ():
    p = {"window": 10, "count": 200, "period": 16.0}
    train, test = data.load("sine", p, "train"), data.load("sine", p, "test")
    w, t = train["windows"][:, :, 0], train["targets"][:, 0]
    # a sampled sine obeys x[t+1] = 2 cos(2 pi / period) x[t] - x[t-1]
    assert torch.allclose(t, 2 * math.cos(2 * math.pi / 16) * w[:, -1] - w[:, -2], atol=1e-5)
    assert len(test["targets"]) == 40
    distances = torch.cdist(test["windows"][:, :, 0], w, compute_mode="donot_use_mm_for_euclid_dist")
    assert distances.min() > 1e-6  # no test window is a training window
    square = data.load("sine", {**p, "waveform": "square"}, "train")["windows"]
    assert set(square.unique().tolist()) == {-1.0, 1.0}
    noisy = data.load("sine", {**p, "waveform": "mixed", "noise": 0.5}, "train")
    assert noisy["windows"].abs().max() <= 1 and noisy["targets"].abs().max() <= 1
    with pytest.raises(ValueError, match="waveform"):
        data.describe("sine", {"waveform": "sqaure"})


def test_sine_span_keeps_every_window_on_one_series_inside_the_span():
    # a period longer than the span: a window's values then say where on the series it lies
    p = {"window": 12, "count": 300, "period": 200.0, "span": 80.0}
    t0s = torch.arange(-2000, 12001, dtype=torch.float64) / 100  # candidate start times, -20 .. 120, every 0.01
    grid = torch.sin(2 * math.pi * (t0s[:, None] + torch.arange(13)) / 200)
    for split in ("train", "test"):
        d = data.load("sine", p, split)
        series = torch.cat([d["windows"][:, :, 0], d["targets"]], dim=1).double()  # [N, 13]: a window and its target
        nearest = torch.cdist(series, grid).min(dim=1)
        assert nearest.values.max() < 1e-3, split  # on sin(2 pi t / period), phase 0 at t = 0
        t0 = t0s[nearest.indices]
        assert t0.min() >= -0.01 and t0.max() <= 80 - 12 - 1 + 0.01, split  # inside the span
        assert t0.min() < 3 and t0.max() > 64, split  # and spread over it
    assert torch.equal(data.load("sine", p, "train")["windows"], data.load("sine", p, "train")["windows"])
    default = {"window": 12, "count": 300, "period": 25.0}
    assert torch.equal(data.load("sine", {**default, "span": 0.0}, "train")["windows"],
                       data.load("sine", default, "train")["windows"])  # span=0 is the old data, bit for bit
    with pytest.raises(ValueError, match="span"):
        data.describe("sine", {"window": 12, "span": 13})


def test_sine_time_input_gives_times_in_the_span_and_the_value_there():
    p = {"count": 300, "period": 25.0, "span": 200.0, "inputs": "time"}
    assert data.describe("sine", p) == {"times": data.Field("float", (1,)), "targets": data.Field("float", (1,))}
    train, test = data.load("sine", p, "train"), data.load("sine", p, "test")
    assert train["times"].shape == train["targets"].shape == (300, 1) and test["times"].shape == (60, 1)
    for d in (train, test):
        t = d["times"].double()
        assert t.min() >= 0 and t.max() < 200 and t.min() < 5 and t.max() > 195  # uniform over [0, span)
        assert (d["targets"].double() - torch.sin(2 * math.pi * t / 25)).abs().max() < 1e-5
    assert not torch.equal(train["times"][:60], test["times"])  # the test split is drawn from its own seed
    assert torch.equal(data.load("sine", p, "train")["times"], train["times"])  # deterministic
    noisy = data.load("sine", {**p, "noise": 0.1}, "train")
    assert torch.equal(noisy["times"], train["times"])  # the noise is on the targets only
    assert 0.05 < float((noisy["targets"] - train["targets"]).std()) < 0.15
    square = data.load("sine", {**p, "waveform": "square"}, "train")
    assert set(square["targets"].flatten().tolist()) == {-1.0, 1.0}
    for bad, match in (({"span": 0.0}, "span"), ({"inputs": "times"}, "inputs"), ({"waveform": "mixed"}, "mixed")):
        with pytest.raises(ValueError, match=match):
            data.describe("sine", {**p, **bad})


def test_sequences_are_arithmetic_progressions_mod_vocab():
    tokens = data.load("sequences", {"vocab": 11, "context": 6, "count": 30}, "train")["tokens"]
    step = (tokens[:, 1:] - tokens[:, :-1]) % 11
    assert tokens.shape == (30, 7) and (step == step[:, :1]).all() and (step > 0).all()


def test_text_windows_are_the_file_bytes(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(bytes(range(256)) * 2)
    p = {"path": str(path), "context": 9}
    train, test = data.load("text", p, "train")["tokens"], data.load("text", p, "test")["tokens"]
    assert (len(train), len(test)) == (40, 11)  # 512 // 10 = 51 windows of 10 bytes; the last 2 bytes are left over
    assert bytes(torch.cat([train, test]).flatten().tolist()) == path.read_bytes()[:510]


# ---- what is missing, and where to put it ------------------------------------------------------------------------

def test_missing_files_name_their_path(tmp_path):
    nowhere = str(tmp_path / "nowhere")
    for name, params in (("text", {"path": nowhere + ".txt"}), ("npz", {"path": nowhere + ".npz"}),
                         ("image_folder", {"path": nowhere})):
        for call in (lambda: data.describe(name, params), lambda: data.load(name, params, "train")):
            with pytest.raises(DataMissing, match=params["path"]):
                call()
    with pytest.raises(DataMissing) as missing:
        data.describe("mnist", {"path": nowhere})
    for expected in (nowhere, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte"):
        assert expected in str(missing.value)


def test_a_missing_package_says_what_to_install():
    with pytest.raises(DataMissing, match="pip install scikit-learn"):
        datafiles.package_file("agqc_no_such_package", "x.csv.gz", "scikit-learn")


def test_unusable_files_are_data_missing_and_bad_parameters_value_errors(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataMissing, match="junk.npz"):
        data.describe("npz", {"path": str(tmp_path / "junk.npz")})
    (tmp_path / "short.txt").write_text("hi")
    with pytest.raises(DataMissing, match="too few"):
        data.describe("text", {"path": str(tmp_path / "short.txt")})
    with pytest.raises(ValueError, match="required"):
        data.describe("text", {})
    with pytest.raises(ValueError, match="no parameter 'windw'"):
        data.describe("sine", {"windw": 3})
    with pytest.raises(ValueError, match="must be int"):
        data.describe("sine", {"window": 2.5})
    assert data.describe("sine", {"period": 10})["windows"].shape == (20, 1)  # an int where a float is wanted


# ---- transforms and augmentations --------------------------------------------------------------------------------

TRANSFORM_PARAMS = {"resize": {"h": 5, "w": 11}, "pad": {"n": 2}, "flatten": {}, "normalise": {"std": 0.25},
                    "scale": {"low": -2.0, "high": 2.0}}


def test_every_transform_has_a_test_case():
    assert set(TRANSFORM_PARAMS) == set(data.TRANSFORMS)


@pytest.mark.parametrize("name", sorted(TRANSFORM_PARAMS))
@pytest.mark.parametrize("shape", [(3, 8, 6), (8, 6)])
def test_reshape_agrees_with_apply(name, shape):
    params = TRANSFORM_PARAMS[name]
    expected = data.TRANSFORMS[name].reshape(params, Field("float", shape))
    fields = {"images": torch.rand(4, *shape), "labels": torch.arange(4)}
    out = data.transform(fields, name, params)
    assert tuple(out["images"].shape[1:]) == expected.shape and out["images"].dtype == torch.float32
    assert out["labels"] is fields["labels"]


def test_transforms_compute_what_they_say():
    x = torch.rand(2, 1, 6, 6)
    assert torch.allclose(data.TRANSFORMS["scale"].apply({}, x), x * 2 - 1)
    assert torch.allclose(data.TRANSFORMS["normalise"].apply({"mean": 0.1, "std": 0.2}, x), (x - 0.1) / 0.2)
    padded = data.TRANSFORMS["pad"].apply({"n": 2}, x)
    assert padded.shape == (2, 1, 10, 10) and torch.equal(padded[..., 2:-2, 2:-2], x)
    padded[..., 2:-2, 2:-2] = 0
    assert not padded.any()  # zeros all round
    flat = torch.full((2, 1, 6, 6), 0.3)
    for h, w in ((3, 3), (12, 9)):  # shrinking (antialiased) and growing keep a flat image flat
        assert torch.allclose(data.TRANSFORMS["resize"].apply({"h": h, "w": w}, flat), torch.tensor(0.3))
    assert data.TRANSFORMS["flatten"].apply({}, x).shape == (2, 36)


def test_transforms_refuse_what_they_cannot_apply_to():
    with pytest.raises(ValueError, match=r"\[C, H, W\]"):
        data.TRANSFORMS["resize"].reshape({"h": 2, "w": 2}, Field("float", (64,)))
    with pytest.raises(ValueError, match="float"):
        data.TRANSFORMS["normalise"].reshape({}, Field("int", (1, 8, 8), 10))
    with pytest.raises(ValueError, match="required"):
        data.TRANSFORMS["pad"].reshape({}, Field("float", (1, 8, 8)))
    with pytest.raises(ValueError, match="std"):
        data.TRANSFORMS["normalise"].reshape({"std": 0}, Field("float", (1, 8, 8)))


def test_transforms_apply_to_images_even_once_flattened_and_leave_other_fields():
    fields = {"images": torch.rand(3, 1, 4, 4), "labels": torch.arange(3), "targets": torch.rand(3, 1)}
    assert data.image_fields(fields) == ["images"]
    flat = data.transform(fields, "flatten", {})
    assert data.image_fields(flat) == ["images"]
    normalised = data.transform(flat, "normalise", {})
    assert torch.allclose(normalised["images"], flat["images"] * 2 - 1)
    assert normalised["targets"] is fields["targets"]
    assert data.image_fields({"x": Field("float", (2, 2)), "y": Field("float", (2,)), "z": Field("int", (2, 2))}) \
        == ["x"]
    assert data.transform(fields, "scale", {}, keys=["targets"])["images"] is fields["images"]


AUGMENT_PARAMS = {"shift": {"pixels": 2}, "rotate": {"degrees": 30.0}, "noise": {"std": 0.1}, "flip": {}}


def test_every_augmentation_has_a_test_case():
    assert set(AUGMENT_PARAMS) == set(data.AUGMENTATIONS)


@pytest.mark.parametrize("name", sorted(AUGMENT_PARAMS))
@pytest.mark.parametrize("shape", [(2, 7, 9), (7, 9)])
def test_augmentations_keep_shape_and_follow_the_generator(name, shape):
    a, params = data.AUGMENTATIONS[name], AUGMENT_PARAMS[name]
    assert a.reshape(params, Field("float", shape)) == Field("float", shape)
    x = torch.rand(16, *shape)
    first = a.apply(params, x, torch.Generator().manual_seed(5))
    assert first.shape == x.shape and first.dtype == x.dtype
    assert torch.equal(first, a.apply(params, x, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, a.apply(params, x, torch.Generator().manual_seed(6)))
    assert not torch.equal(first, x)


def test_augmentations_do_what_they_say():
    g = torch.Generator().manual_seed(0)
    dot = torch.zeros(50, 1, 9, 9)
    dot[:, 0, 4, 4] = 1
    moved = data.AUGMENTATIONS["shift"].apply({"pixels": 2}, dot, g)
    where = moved.flatten(1).argmax(1)
    rows, cols = where // 9, where % 9
    assert moved.sum() == 50 and (rows - 4).abs().max() == 2 and (cols - 4).abs().max() == 2
    assert torch.equal(data.AUGMENTATIONS["shift"].apply({"pixels": 0}, dot, g), dot)
    x = torch.rand(40, 3, 5, 6)
    flipped = data.AUGMENTATIONS["flip"].apply({}, x, g)
    mirrored = (flipped == x.flip(-1)).flatten(1).all(1)
    assert ((flipped == x).flatten(1).all(1) | mirrored).all() and 5 < mirrored.sum() < 35
    assert torch.allclose(data.AUGMENTATIONS["rotate"].apply({"degrees": 0.0}, x, g), x, atol=1e-5)
    with pytest.raises(ValueError, match=r"\[C, H, W\]"):
        data.AUGMENTATIONS["rotate"].reshape({}, Field("float", (64,)))
    with pytest.raises(ValueError, match="negative"):
        data.AUGMENTATIONS["noise"].reshape({"std": -1.0}, Field("float", (64,)))


def test_augment_leaves_labels_alone():
    fields = {"images": torch.rand(4, 1, 5, 5), "labels": torch.arange(4)}
    out = data.augment(fields, "noise", {}, torch.Generator().manual_seed(0))
    assert out["labels"] is fields["labels"] and not torch.equal(out["images"], fields["images"])


# ---- batches -----------------------------------------------------------------------------------------------------

def rows_of(n: int, batch: int, **kw) -> list[list[int]]:
    fields = {"i": torch.arange(n), "x": torch.arange(n).float().reshape(n, 1) * 2}
    out = []
    for b in data.batches(fields, batch, **kw):
        assert torch.equal(b["x"][:, 0], b["i"].float() * 2)  # the fields stay together
        out.append(b["i"].tolist())
    return out


def test_batches_are_deterministic_from_seed_and_epoch():
    a = rows_of(50, 8, shuffle=True, seed=3, epoch=0)
    assert a == rows_of(50, 8, shuffle=True, seed=3, epoch=0)
    assert a != rows_of(50, 8, shuffle=True, seed=3, epoch=1)
    assert a != rows_of(50, 8, shuffle=True, seed=4, epoch=0)
    assert len(a) == 6 and len({i for b in a for i in b}) == 48 and all(len(b) == 8 for b in a)
    assert rows_of(10, 4, shuffle=False, seed=3, epoch=0) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert rows_of(10, 4, shuffle=False, seed=3, epoch=0, drop_last=False)[-1] == [8, 9]


@pytest.mark.parametrize("drop_last", [True, False])
def test_ranks_together_see_the_one_process_batches(drop_last):
    one = rows_of(37, 10, shuffle=True, seed=7, epoch=2, drop_last=drop_last)
    ranks = [rows_of(37, 5, shuffle=True, seed=7, epoch=2, rank=r, world=2, drop_last=drop_last) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == len(one)
    assert [r0 + r1 for r0, r1 in zip(*ranks)] == one


@pytest.mark.parametrize("n, batch, world", [(37, 5, 1), (37, 5, 2), (40, 5, 2), (7, 2, 3), (3, 4, 1), (100, 1, 4)])
def test_steps_per_epoch_counts_the_batches(n, batch, world):
    for drop_last in (True, False):
        yielded = [rows_of(n, batch, shuffle=True, seed=0, epoch=0, rank=r, world=world, drop_last=drop_last)
                   for r in range(world)]
        assert all(len(y) == data.steps_per_epoch(n, batch, world, drop_last) for y in yielded)
        seen = sorted(i for y in yielded for b in y for i in b)
        if not drop_last:
            assert seen == list(range(n))  # every example once


def test_batches_check_their_arguments():
    with pytest.raises(ValueError, match="rank"):
        next(data.batches({"i": torch.arange(4)}, 2, shuffle=False, seed=0, epoch=0, rank=2, world=2))


def test_a_spec_gives_its_data_as_the_trainer_reads_it():
    import agqc
    root = Path(__file__).resolve().parent.parent
    test = agqc.load(root / "specs" / "dnn_classifier.agq").data("test")
    assert tuple(test["images"].shape) == (360, 1, 28, 28) and tuple(test["labels"].shape) == (360,)
    with pytest.raises(ValueError, match="no `train` section"):
        agqc.load(root / "specs" / "gpt2.agq").data()
