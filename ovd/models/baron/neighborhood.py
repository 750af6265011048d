"""BARON's neighbourhood sampling: bags of regions from a 3x3 grid of same-size neighbours around each proposal.

Rules (Wu et al., CVPR 2023, Sec. 3.3 and the authors' ovdet ``NeighborhoodSampling``; our own vectorised code):

- Grid. Cell ``(row i, col j)``, ``i, j in {0, 1, 2}``, is the proposal shifted by ``(j - 1) * (1 + interval)``
  widths and ``(i - 1) * (1 + interval)`` heights; the centre cell (index 4) is the proposal. With
  ``interval = -0.1`` neighbours overlap their neighbour by a tenth of its side. Cells are indexed row-major
  ``0 1 2 / 3 4 5 / 6 7 8``.
- Direction probabilities. Left/right: ``base_probability * (h / w) ** alpha``, up/down:
  ``base_probability * (w / h) ** alpha`` (a tall box more likely grows sideways), clipped to
  ``[0, base_probability]``; a direction gets 0 when the room left between the proposal and the image border, in
  units of the proposal side, is not above ``cut_off_thr + interval`` (the neighbour would lie mostly outside).
- Cell probabilities. Side cells take their direction's probability (left column ``p_left``, top row ``p_up`` ...),
  corners the geometric mean of their two directions (``sqrt(p_left * p_up)``), the centre 1.
- Bags. A bag keeps each cell with its probability (Bernoulli); a proposal gets ``min(max_groups, n!)`` distinct
  bags, ``n`` the number of cells with non-zero probability (so a proposal at a corner of the image gets fewer).
  ovdet draws until the bags are distinct; here ``num_candidates`` bags are drawn at once per proposal and the first
  distinct ones are kept (with the default 16 candidates running short is rare; then fewer bags are used).
- Order. Each bag is encoded as a word sequence in ``min(max_permutations, n_b!)`` orders of its ``n_b`` cells:
  distinct uniformly random permutations, as ovdet's ``pseudo_permutations`` draws them (first distinct ones among
  ``num_candidates`` draws; should those run short, cyclic shifts of the first order fill in).
- Cells are clipped to the image; the bag's spanned box is the hull of its clipped cells, and each region's box
  relative to it (``normed``, in ``[0, 1]``) drives the positional embedding and the teacher's RoI pooling.

Everything is tensor code over all proposals of the batch at once: no Python loop over boxes.
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

CENTER = 4
# column (0 left, 2 right) and row (0 top, 2 bottom) of each cell
_COLS = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
_ROWS = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])


def grid_boxes(boxes: Tensor, interval: float = -0.1) -> Tensor:
    """The 3x3 grid of neighbour boxes of each box (not clipped).

    Args:
        boxes: ``[P, 4]`` xyxy.
        interval: gap between neighbours in units of the box side (negative: overlap).

    Returns:
        ``[P, 9, 4]`` xyxy, cell 4 equal to the box.
    """
    wh = (boxes[:, 2:] - boxes[:, :2])  # [P, 2]
    step = torch.stack([_COLS, _ROWS], dim=1).to(boxes) - 1.0  # [9, 2] (dx, dy) in cells
    shift = step[None] * (1.0 + interval) * wh[:, None]  # [P, 9, 2]
    return boxes[:, None, :] + shift.repeat(1, 1, 2)


def direction_probabilities(boxes: Tensor, image_hw: Tensor, alpha: float = 3.0, base_probability: float = 0.3,
                            cut_off_thr: float = 0.3, interval: float = -0.1) -> Tensor:
    """Probability of growing a bag to the left, right, up and down of each box.

    Args:
        boxes: ``[P, 4]`` xyxy.
        image_hw: ``[P, 2]`` (height, width) of each box's image.
        alpha, base_probability, cut_off_thr, interval: see the module docstring.

    Returns:
        ``[P, 4]`` probabilities (left, right, up, down).
    """
    eps = 1e-12
    w = boxes[:, 2] - boxes[:, 0] + eps
    h = boxes[:, 3] - boxes[:, 1] + eps
    height, width = image_hw[:, 0].to(boxes), image_hw[:, 1].to(boxes)
    shape = torch.stack([h / w, h / w, w / h, w / h], dim=1).pow(alpha) * base_probability
    room = torch.stack([boxes[:, 0] / w, (width - boxes[:, 2]) / w,
                        boxes[:, 1] / h, (height - boxes[:, 3]) / h], dim=1)
    prob = torch.where(room > cut_off_thr + interval, shape, torch.zeros_like(shape))
    return torch.nan_to_num(prob, nan=0.0).clamp(0.0, base_probability)


def cell_probabilities(direction_prob: Tensor) -> Tensor:
    """Keep-probability of each grid cell from the direction probabilities.

    Args:
        direction_prob: ``[P, 4]`` (left, right, up, down).

    Returns:
        ``[P, 9]``: sides take their direction's probability, corners the geometric mean of their two, centre 1.
    """
    left, right, up, down = direction_prob.unbind(dim=1)
    ones = torch.ones_like(left)
    col = torch.stack([left, ones, right], dim=1)[:, _COLS.to(left.device)]  # [P, 9]
    row = torch.stack([up, ones, down], dim=1)[:, _ROWS.to(left.device)]  # [P, 9]
    prob = col * row
    corners = (_COLS != 1) & (_ROWS != 1)
    prob[:, corners.to(prob.device)] = prob[:, corners.to(prob.device)].sqrt()
    return prob.clamp(0.0, 1.0)


def num_bags_per_proposal(cell_prob: Tensor, max_groups: int) -> Tensor:
    """``[P]``: ``min(max_groups, n!)`` bags per proposal, ``n`` its cells other than the centre with probability
    above 0."""
    num_valid = (cell_prob > 0).sum(dim=1) - 1
    limit = torch.tensor([min(max_groups, math.factorial(n)) for n in range(10)], device=cell_prob.device)
    return limit[num_valid]


def bag_hulls(cells: Tensor, members: Tensor) -> Tensor:
    """``[B, 4]`` xyxy hull of the member cells: ``cells [B, 9, 4]`` (clipped), ``members [B, 9]`` bool."""
    inf = torch.finfo(cells.dtype).max
    lo = cells[..., :2].masked_fill(~members[..., None], inf).amin(dim=1)
    hi = cells[..., 2:].masked_fill(~members[..., None], -inf).amax(dim=1)
    return torch.cat([lo, hi], dim=-1)


def relative_boxes(boxes: Tensor, span: Tensor) -> Tensor:
    """xyxy ``boxes [..., 4]`` relative to the xyxy ``span [..., 4]`` that holds them (0..1)."""
    origin = span[..., :2]
    wh = (span[..., 2:] - origin).clamp(min=1e-6)
    return torch.cat([(boxes[..., :2] - origin) / wh, (boxes[..., 2:] - origin) / wh], dim=-1)


@dataclass
class Bags:
    """Bags of regions sampled around ``P`` proposals, flattened.

    ``B`` bags (distinct cell sets), ``S`` word sequences (orders of a bag's cells), ``R`` regions (a cell in one
    sequence; a cell appears once per sequence of each bag that holds it).

    Attributes:
        bag_proposal: ``[B]`` proposal index of each bag.
        bag_cells: ``[B, 9]`` bool, cells in the bag.
        spanned: ``[B, 4]`` xyxy hull of the bag's clipped cells (the teacher's crop).
        seq_bag: ``[S]`` bag index of each sequence.
        region_seq: ``[R]`` sequence index of each region, non-decreasing; regions of a sequence are in its order.
        region_cell: ``[R]`` grid cell (0..8) of each region.
        region_boxes: ``[R, 4]`` xyxy, clipped to the image.
        region_normed: ``[R, 4]`` xyxy relative to the bag's spanned box (0..1).
    """
    bag_proposal: Tensor
    bag_cells: Tensor
    spanned: Tensor
    seq_bag: Tensor
    region_seq: Tensor
    region_cell: Tensor
    region_boxes: Tensor
    region_normed: Tensor

    @property
    def region_bag(self) -> Tensor:
        return self.seq_bag[self.region_seq]

    @property
    def region_proposal(self) -> Tensor:
        return self.bag_proposal[self.region_bag]


def _distinct_first(codes: Tensor, limit: Tensor) -> Tensor:
    """``[P, T]`` bool: the first ``limit[p]`` distinct values of each row of ``codes``."""
    num = codes.shape[1]
    earlier = torch.ones(num, num, dtype=torch.bool, device=codes.device).tril(-1)  # [t, t'] t' < t
    duplicate = ((codes[:, :, None] == codes[:, None, :]) & earlier).any(dim=2)
    rank = (~duplicate).long().cumsum(dim=1) - 1
    return ~duplicate & (rank < limit[:, None])


def sample_bags(boxes: Tensor, image_hw: Tensor, max_groups: int = 3, max_permutations: int = 2,
                alpha: float = 3.0, cut_off_thr: float = 0.3, base_probability: float = 0.3,
                interval: float = -0.1, num_candidates: int = 16,
                generator: Optional[torch.Generator] = None) -> Bags:
    """Sample bags of regions around each proposal (see the module docstring for the rules).

    Args:
        boxes: ``[P, 4]`` xyxy proposals (pixels of the padded-batch frame).
        image_hw: ``[P, 2]`` (height, width) of each proposal's image, for the boundary rule and clipping.
        max_groups: bags per proposal at most (ovdet: 3 for COCO, 4 for LVIS).
        max_permutations: orders per bag at most (ovdet: 2).
        alpha, cut_off_thr, base_probability, interval: probability and geometry parameters.
        num_candidates: bags drawn per proposal (and orders per bag) before keeping the first distinct ones.
        generator: RNG for reproducible tests.

    Returns:
        :class:`Bags`.
    """
    if max_groups < 1 or max_permutations < 1 or num_candidates < max_groups:
        raise ValueError(f'sample_bags: need max_groups >= 1, max_permutations >= 1 and num_candidates >= '
                         f'max_groups, got {max_groups}, {max_permutations}, {num_candidates}')
    device = boxes.device
    boxes = boxes.float()
    image_hw = image_hw.to(device=device, dtype=boxes.dtype)
    cells = grid_boxes(boxes, interval)  # [P, 9, 4]
    size = image_hw.flip(1).repeat(1, 2)[:, None, :]  # [P, 1, 4] (w, h, w, h)
    cells = torch.minimum(cells.clamp(min=0.0), size)
    prob = cell_probabilities(direction_probabilities(boxes, image_hw, alpha, base_probability, cut_off_thr,
                                                      interval))  # [P, 9]

    # bags: draw candidates, keep the first min(max_groups, n!) distinct ones
    num_props = boxes.shape[0]
    draws = torch.rand(num_props, num_candidates, 9, device=device, generator=generator)
    member = draws < prob[:, None, :]  # [P, T, 9]; the centre (prob 1) is always in
    codes = (member.long() << torch.arange(9, device=device)).sum(dim=2)  # [P, T]
    keep = _distinct_first(codes, num_bags_per_proposal(prob, max_groups))  # [P, T]
    bag_proposal = keep.nonzero()[:, 0]
    bag_cells = member[keep]  # [B, 9]

    # spanned box of each bag: hull of its clipped cells
    spanned = bag_hulls(cells[bag_proposal], bag_cells)  # [B, 4]

    # orders: the first min(n!, max_permutations) distinct ones among uniformly random permutations of the bag's
    # cells (absent cells last, fixed); the cyclic shifts of the first draw close the list so it never runs short
    num_bags = bag_cells.shape[0]
    n_cells = bag_cells.sum(dim=1)  # [B]
    pos = torch.arange(9, device=device)
    absent = (~bag_cells).float()[:, None, :] * (2.0 + pos / 10.0)  # [B, 1, 9]
    keys = torch.rand(num_bags, num_candidates, 9, device=device, generator=generator) * bag_cells[:, None] + absent
    order = keys.argsort(dim=2)  # [B, T, 9]
    shift = torch.arange(1, max_permutations, device=device)  # [M - 1]
    rolled = (pos[None, None] + shift[None, :, None]) % n_cells[:, None, None]  # [B, M - 1, 9]
    rolled = torch.where(pos[None, None] < n_cells[:, None, None], rolled, pos[None, None].expand_as(rolled))
    order = torch.cat([order, order[:, :1].expand(-1, shift.numel(), -1).gather(2, rolled)], dim=1)
    codes = (order * 9 ** pos).sum(dim=2)  # [B, T + M - 1], one integer per permutation
    factorials = torch.tensor([math.factorial(n) for n in range(10)], device=device)
    keep = _distinct_first(codes, factorials[n_cells].clamp(max=max_permutations))
    seq_bag = keep.nonzero()[:, 0]  # [S]
    seq_order = order[keep]  # [S, 9]
    seq_len = n_cells[seq_bag]  # [S]

    # regions, flattened in sequence order
    in_seq = pos[None] < seq_len[:, None]  # [S, 9]
    region_seq = in_seq.nonzero()[:, 0]
    region_cell = seq_order[in_seq]
    region_bag = seq_bag[region_seq]
    region_boxes = cells[bag_proposal[region_bag], region_cell]  # [R, 4]
    region_normed = relative_boxes(region_boxes, spanned[region_bag])
    return Bags(bag_proposal=bag_proposal, bag_cells=bag_cells, spanned=spanned, seq_bag=seq_bag,
                region_seq=region_seq, region_cell=region_cell, region_boxes=region_boxes,
                region_normed=region_normed)
