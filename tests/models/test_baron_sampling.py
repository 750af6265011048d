"""BARON's neighbourhood sampling and seed selection on hand-worked boxes."""
import math

import pytest
import torch

from ovd.models.baron.neighborhood import (cell_probabilities, direction_probabilities, grid_boxes,
                                           sample_bags)
from ovd.models.baron.proposals import select_seed_boxes

HW400 = torch.tensor([[400.0, 400.0]])


def test_grid_positions_and_overlap():
    box = torch.tensor([[100.0, 100.0, 150.0, 200.0]])  # w 50, h 100
    cells = grid_boxes(box, interval=-0.1)[0]
    # neighbours shifted by 0.9 of the side: 45 px in x, 90 px in y
    assert cells[4].tolist() == [100, 100, 150, 200]
    assert cells[0].tolist() == [55, 10, 105, 110]
    assert cells[5].tolist() == [145, 100, 195, 200]
    assert cells[7].tolist() == [100, 190, 150, 290]
    assert cells[8].tolist() == [145, 190, 195, 290]
    # same size everywhere; overlap with the centre = a tenth of the side
    assert torch.allclose(cells[:, 2:] - cells[:, :2], torch.tensor([50.0, 100.0]).expand(9, 2))
    assert cells[3, 2] - cells[4, 0] == pytest.approx(5.0)
    assert cells[4, 3] - cells[7, 1] == pytest.approx(10.0)
    assert grid_boxes(box, interval=0.0)[0, 3].tolist() == [50, 100, 100, 200]  # touching, no overlap


def test_direction_probabilities_shape_rule():
    tall = torch.tensor([[100.0, 100.0, 150.0, 200.0]])  # h / w = 2
    prob = direction_probabilities(tall, HW400, alpha=3.0, base_probability=0.3)[0]
    # sideways: 0.3 * 2^3 = 2.4 -> clipped to 0.3; up/down: 0.3 * 0.5^3 = 0.0375
    assert prob.tolist() == pytest.approx([0.3, 0.3, 0.0375, 0.0375])
    square = torch.tensor([[100.0, 100.0, 150.0, 150.0]])
    assert direction_probabilities(square, HW400)[0].tolist() == pytest.approx([0.3] * 4)
    assert direction_probabilities(square, HW400, alpha=0.0, base_probability=0.5)[0].tolist() == \
        pytest.approx([0.5] * 4)


def test_direction_probabilities_image_boundary_rule():
    # room to the border in box sides must exceed cut_off_thr + interval = 0.3 - 0.1 = 0.2
    corner = torch.tensor([[0.0, 0.0, 50.0, 50.0]])
    assert direction_probabilities(corner, HW400)[0].tolist() == pytest.approx([0.0, 0.3, 0.0, 0.3])
    just_inside = torch.tensor([[7.5, 100.0, 57.5, 150.0]])  # 7.5 / 50 = 0.15 <= 0.2: left off
    enough = torch.tensor([[12.5, 100.0, 62.5, 150.0]])  # 0.25 > 0.2: left on
    assert direction_probabilities(just_inside, HW400)[0, 0] == 0.0
    assert direction_probabilities(enough, HW400)[0, 0] == pytest.approx(0.3)
    right_edge = torch.tensor([[340.0, 100.0, 390.0, 150.0]])  # (400 - 390) / 50 = 0.2: not above
    assert direction_probabilities(right_edge, HW400)[0, 1] == 0.0
    whole = torch.tensor([[0.0, 0.0, 400.0, 400.0]])
    assert direction_probabilities(whole, HW400)[0].tolist() == [0.0] * 4


def test_cell_probabilities():
    prob = cell_probabilities(torch.tensor([[0.3, 0.2, 0.0375, 0.1]]))[0]
    corner = lambda a, b: math.sqrt(a * b)  # noqa: E731
    expected = [corner(0.3, 0.0375), 0.0375, corner(0.2, 0.0375),
                0.3, 1.0, 0.2,
                corner(0.3, 0.1), 0.1, corner(0.2, 0.1)]
    assert prob.tolist() == pytest.approx(expected)


def test_keep_frequencies_match_probabilities():
    box = torch.tensor([[150.0, 150.0, 200.0, 250.0]]).repeat(4000, 1)
    gen = torch.Generator().manual_seed(0)
    bags = sample_bags(box, HW400.repeat(4000, 1), max_groups=1, max_permutations=1, num_candidates=1,
                       generator=gen)
    assert bags.bag_cells.shape == (4000, 9)  # one bag each, the first draw: unbiased Bernoulli
    freq = bags.bag_cells.float().mean(dim=0)
    expected = cell_probabilities(direction_probabilities(box[:1], HW400))[0]
    assert torch.allclose(freq, expected, atol=0.03)
    assert bags.bag_cells[:, 4].all()


def test_bags_distinct_and_limited_by_valid_neighbours():
    gen = torch.Generator().manual_seed(1)
    boxes = torch.tensor([[0.0, 0.0, 50.0, 50.0], [150.0, 150.0, 200.0, 200.0], [0.0, 0.0, 400.0, 400.0]])
    bags = sample_bags(boxes, HW400.repeat(3, 1), max_groups=3, max_permutations=2, generator=gen)
    for p in range(3):
        cells = bags.bag_cells[bags.bag_proposal == p]
        assert cells[:, 4].all()
        codes = {tuple(c.tolist()) for c in cells}
        assert len(codes) == len(cells)  # distinct bags
    # the corner box may grow only right/down (3 cells): at most min(3, 3!) bags, never left/up cells
    corner = bags.bag_cells[bags.bag_proposal == 0]
    assert not corner[:, [0, 1, 2, 3, 6]].any()
    # the whole-image box has no neighbour: exactly one bag = itself, one order, normed box = the bag
    whole = (bags.bag_proposal == 2).nonzero().flatten()
    assert len(whole) == 1 and bags.bag_cells[whole[0]].sum() == 1
    seqs = (bags.seq_bag == whole[0]).nonzero().flatten()
    assert len(seqs) == 1
    region = (bags.region_seq == seqs[0]).nonzero().flatten()
    assert bags.region_normed[region].tolist() == [[0.0, 0.0, 1.0, 1.0]]


def test_full_bag_geometry_orders_and_clipping():
    box = torch.tensor([[100.0, 100.0, 150.0, 200.0]])
    bags = sample_bags(box, torch.tensor([[250.0, 400.0]]), alpha=0.0, base_probability=1.0, cut_off_thr=-5.0,
                       max_groups=3, max_permutations=2, generator=torch.Generator().manual_seed(0))
    # every cell has probability 1: only one distinct bag exists, seen in two orders of its 9 cells
    assert bags.bag_cells.tolist() == [[True] * 9]
    assert bags.seq_bag.tolist() == [0, 0]
    orders = bags.region_cell.view(2, 9)
    assert sorted(orders[0].tolist()) == list(range(9)) and sorted(orders[1].tolist()) == list(range(9))
    assert orders[0].tolist() != orders[1].tolist()
    # the bottom row (y 190..290) is clipped to the image height 250; hull = [55, 10, 195, 250]
    assert bags.spanned.tolist() == [[55.0, 10.0, 195.0, 250.0]]
    centre = (bags.region_cell == 4).nonzero()[0, 0]
    assert bags.region_boxes[centre].tolist() == [100.0, 100.0, 150.0, 200.0]
    assert bags.region_normed[centre].tolist() == pytest.approx([45 / 140, 90 / 240, 95 / 140, 190 / 240])
    bottom = (bags.region_cell == 7).nonzero()[0, 0]
    assert bags.region_boxes[bottom].tolist() == [100.0, 190.0, 150.0, 250.0]
    assert bags.region_seq.tolist() == [0] * 9 + [1] * 9


def test_seed_selection_rules():
    boxes = torch.tensor([
        [10.0, 10.0, 60.0, 60.0],     # kept (best)
        [12.0, 12.0, 62.0, 62.0],     # overlaps the best: removed by NMS 0.1
        [100.0, 10.0, 300.0, 30.0],   # aspect ratio 10 > 4: removed
        [100.0, 100.0, 150.0, 150.0],  # objectness 0.5 <= 0.85: removed
        [500.0, 500.0, 600.0, 600.0],  # outside the 400 x 400 image: removed
        [200.0, 200.0, 260.0, 250.0],  # kept
    ])
    scores = torch.tensor([0.99, 0.98, 0.97, 0.5, 0.96, 0.9])
    kept = select_seed_boxes(boxes, scores, (400, 400), None)
    assert kept.tolist() == [[10.0, 10.0, 60.0, 60.0], [200.0, 200.0, 260.0, 250.0]]
    # ground truth joins with objectness 1
    gt = torch.tensor([[300.0, 300.0, 350.0, 350.0]])
    assert select_seed_boxes(boxes, scores, (400, 400), gt).tolist()[0] == [300.0, 300.0, 350.0, 350.0]
    # nothing valid: the most confident proposal; nothing at all: the image
    assert select_seed_boxes(boxes[3:5], scores[3:5], (400, 400)).tolist() == [[500.0, 500.0, 600.0, 600.0]]
    assert select_seed_boxes(boxes[:0], scores[:0], (300, 400)).tolist() == [[0.0, 0.0, 399.0, 299.0]]
    # top-k by objectness first
    assert select_seed_boxes(boxes, scores, (400, 400), topk=1).tolist() == [[10.0, 10.0, 60.0, 60.0]]
