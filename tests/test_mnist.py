"""MNIST idx reading from the shared data folder."""

import gzip
from pathlib import Path

import numpy as np
import pytest
from shared_data import DATA, needs

from fugato.errors import FugatoError
from fugato.images import load_mnist, read_idx, split_mnist

MNIST = DATA / "mnist"


def test_read_idx_round_trip_and_bad_file(tmp_path: Path) -> None:
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + np.array([2, 3, 4], ">u4").tobytes()
    good = tmp_path / "x.idx.gz"
    good.write_bytes(gzip.compress(header + values.tobytes()))
    np.testing.assert_array_equal(read_idx(good), values)
    bad = tmp_path / "y.idx"
    bad.write_bytes(header + values.tobytes()[:-1])
    with pytest.raises(FugatoError, match="y.idx"):
        read_idx(bad)


@needs("mnist")
def test_load_mnist_test_set() -> None:
    images, labels = load_mnist()
    assert images.shape == (10000, 784) and labels.shape == (10000,)
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    counts = np.bincount(labels.numpy(), minlength=10)
    assert counts.sum() == 10000 and counts[0] == 980 and counts[1] == 1135
    (train, _), (test, _) = split_mnist(images, labels)
    assert len(train) == 8000 and len(test) == 2000
