"""Image data sets (no torch models here): MNIST from idx files."""

from fugato.images.mnist import load_mnist, read_idx, split_mnist

__all__ = ["load_mnist", "read_idx", "split_mnist"]
