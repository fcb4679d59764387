"""dSprites drawn by `fugato.images.dsprites`: the original's factor order, and shapes that
move, grow and turn as their factors say."""

import numpy as np
import pytest

from fugato.images.dsprites import FACTORS, SIZE, dsprites, factors_of, render


def one(**chosen: int) -> dict[str, np.ndarray]:
    base = {"shape": 0, "scale": 5, "orientation": 0, "position_x": 16, "position_y": 16}
    return {k: np.array([chosen.get(k, v)]) for k, v in base.items()}


def test_the_index_follows_the_originals_order() -> None:
    total = int(np.prod(list(FACTORS.values())))
    assert total == 737_280
    first, second, last = (factors_of(np.array([i])) for i in (0, 1, total - 1))
    assert all(v[0] == 0 for v in first.values())
    assert second["position_y"][0] == 1 and second["position_x"][0] == 0  # y varies fastest
    assert {k: int(v[0]) for k, v in last.items()} == {k: n - 1 for k, n in FACTORS.items()}


def test_sprites_grow_move_and_turn_with_their_factors() -> None:
    for shape in range(3):
        small, big = (render(one(shape=shape, scale=s))[0].sum() for s in (0, 5))
        assert big / small == pytest.approx(4, rel=0.15)  # area ~ scale squared
        turned = render(one(shape=shape, orientation=7))[0].sum()
        assert turned == pytest.approx(big, rel=0.1)
        # orientation 0 and 2 pi are the same image, as in the original
        assert np.array_equal(render(one(shape=shape))[0], render(one(shape=shape,
                                                                        orientation=39))[0])
    columns = np.arange(SIZE)
    left, right = (render(one(position_x=x))[0] for x in (0, 31))
    shift = (right.sum(0) @ columns) / right.sum() - (left.sum(0) @ columns) / left.sum()
    assert shift == pytest.approx(0.56 * SIZE, abs=0.5)
    top = render(one(position_y=0))[0]
    assert (top.sum(1) @ columns) / top.sum() < SIZE / 4  # y grows downwards, as rows do


def test_full_scale_sprites_stay_inside_the_canvas_and_shapes_differ() -> None:
    corners = [(x, y) for x in (0, 31) for y in (0, 31)]
    factors = {"shape": np.repeat(np.arange(3), 40 * 4),
               "scale": np.full(480, 5), "orientation": np.tile(np.repeat(np.arange(40), 4), 3),
               "position_x": np.tile([c[0] for c in corners], 120),
               "position_y": np.tile([c[1] for c in corners], 120)}
    images = render(factors)
    border = images[:, [0, -1], :].any(axis=(1, 2)) | images[:, :, [0, -1]].any(axis=(1, 2))
    assert not border.any()
    square, ellipse, heart = (render(one(shape=s))[0] for s in range(3))
    assert ellipse.sum() < heart.sum() < square.sum()
    # the heart has a point at the bottom and two lobes at the top: not symmetric up-down
    assert not np.array_equal(heart, heart[::-1])


def test_a_seeded_subset_is_repeatable_and_binary() -> None:
    images, factors = dsprites(64, seed=3)
    again, _ = dsprites(64, seed=3)
    assert images.shape == (64, SIZE, SIZE) and images.dtype == bool
    assert np.array_equal(images, again)
    assert np.array_equal(render(factors), images)
    assert dsprites(64, seed=4)[1]["scale"].tolist() != factors["scale"].tolist()
