"""Disentanglement metrics on cases with a known answer."""

import numpy as np
import pytest

from fugato.metrics.disentanglement import (
    discretize,
    disentanglement,
    entropy,
    mutual_information,
    spearman_matrix,
)

N = 4000


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.column_stack([rng.random(N), rng.normal(size=N), rng.exponential(size=N)])


def test_a_code_equal_to_the_attributes_scores_at_the_top(factors: np.ndarray) -> None:
    result = disentanglement(factors, factors)
    for name in ("interpretability", "scc"):
        assert result[name]["score"] == pytest.approx(1.0, abs=1e-9), name
    # the plug-in MI between independent factors is a small positive bias, not 0
    assert result["modularity"]["score"] > 0.99
    assert result["sap"]["score"] > 0.95
    # MIG: top MI = H(factor), second = MI with an independent factor (plug-in bias only)
    assert result["mig"]["score"] > 0.9
    assert list(result["interpretability"]["dims"]) == [0, 1, 2]


def test_monotone_transforms_and_extra_noise_dims_keep_scc_and_interpretability(
        factors: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    codes = np.column_stack([np.tanh(factors[:, 0]), factors[:, 1] * 3, -factors[:, 2],
                             rng.normal(size=(N, 5))])
    result = disentanglement(codes, factors)
    assert result["scc"]["score"] == pytest.approx(1.0)
    assert result["interpretability"]["score"] > 0.95
    assert result["mig"]["score"] > 0.8


def test_independent_noise_scores_near_zero(factors: np.ndarray) -> None:
    codes = np.random.default_rng(2).normal(size=(N, 8))
    result = disentanglement(codes, factors)
    assert result["interpretability"]["score"] < 0.02
    assert result["mig"]["score"] < 0.02
    assert result["sap"]["score"] < 0.02
    assert result["scc"]["score"] < 0.1
    # every noise dim shares about as much (bias-level) information with each factor
    assert result["modularity"]["score"] < 0.5


def test_a_code_mixing_two_factors_is_not_modular(factors: np.ndarray) -> None:
    mixed = (factors[:, :2] / factors[:, :2].std(axis=0)).sum(axis=1, keepdims=True)
    assert disentanglement(mixed, factors[:, :2])["modularity"]["score"] < 0.6


def test_mutual_information_and_entropy_of_discrete_columns() -> None:
    x = np.repeat(np.arange(4), 256)[:, None]  # uniform over 4 bins
    assert entropy(x)[0] == pytest.approx(np.log(4))
    assert mutual_information(x, x)[0, 0] == pytest.approx(np.log(4))
    other = np.tile(np.arange(4), 256)[:, None]  # independent of x
    assert mutual_information(x, other)[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert discretize(np.linspace(0, 1, 100)[:, None]).max() == 19


def test_spearman_matrix_signs_and_constants() -> None:
    x = np.arange(10.0)
    m = spearman_matrix(np.column_stack([x, -x**3, np.ones(10)]), x[:, None])
    assert m[:, 0] == pytest.approx([1.0, -1.0, 0.0])
