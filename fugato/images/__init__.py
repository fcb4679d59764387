"""Image data sets (no torch models here): MNIST from idx files, its Morpho-MNIST attributes
measured here (`fugato.images.morpho`), dSprites drawn here."""

from fugato.images.dsprites import dsprites
from fugato.images.mnist import load_mnist, read_idx, split_mnist

__all__ = ["dsprites", "load_mnist", "read_idx", "split_mnist"]
