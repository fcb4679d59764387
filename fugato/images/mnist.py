"""MNIST from the idx files in `$FUGATO_DATA/mnist` (the 10,000-digit test set ships there).

idx format (big-endian): two zero bytes, a type byte (0x08 = unsigned byte), a byte giving the
number of dimensions, one uint32 per dimension, then the values in C order. Files may be gzipped.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from fugato.errors import FugatoError
from fugato.paths import data_dir

IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"


def read_idx(path: str | Path) -> np.ndarray:
    """The uint8 array stored in an idx (or idx.gz) file; FugatoError naming the file if bad."""
    path = Path(path)
    if not path.is_file():
        raise FugatoError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise FugatoError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise FugatoError(f"{path}: not an unsigned-byte idx file")
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise FugatoError(f"{path}: {data.size} values, header says {shape}")
    return data.reshape(shape)


def load_mnist(folder: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 784) float32 in [0, 1], labels (N,) int64) from `folder` (default
    `data_dir()/mnist`)."""
    root = Path(folder) if folder is not None else data_dir() / "mnist"  # type: ignore[operator]
    images = read_idx(root / IMAGES)
    labels = read_idx(root / LABELS)
    if len(images) != len(labels):
        raise FugatoError(f"{root}: {len(images)} images but {len(labels)} labels")
    pixels = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    return pixels, torch.from_numpy(labels.astype(np.int64))


def split_mnist(images: torch.Tensor, labels: torch.Tensor, n_test: int = 2000,
                seed: int = 0) -> tuple[tuple[torch.Tensor, torch.Tensor],
                                        tuple[torch.Tensor, torch.Tensor]]:
    """Seeded split into ((train images, labels), (test images, labels)); 8,000 / 2,000 for
    the shipped test set."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    test, train = order[:n_test], order[n_test:]
    return (images[train], labels[train]), (images[test], labels[test])
