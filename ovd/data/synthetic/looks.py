"""The appearance ("look") of each synthetic category: a shape, a colour and a texture, unique per index.

Category index ``k`` (0-based, in the order of the dataset's own category list) always gets the same look,
so a detector can learn ``look -> category`` and the datasets agree with each other. The first 96 indices are
solid and differ in shape or colour; later ones add a striped/checkered texture in a second colour. There are
8 shapes x 12 colours x (1 solid + 4 textures x 11 second colours) = 4,320 distinct looks, enough for the
1,203 LVIS v1 categories.

Every shape is a simple polygon (the ring is a "C" with a gap), so the polygon written as the annotation's
``segmentation`` is exactly the region that is painted.
"""
import math
from dataclasses import dataclass
from typing import List, Tuple

SHAPES = ('rectangle', 'ellipse', 'triangle', 'diamond', 'cross', 'ring', 'hexagon', 'star')
TEXTURES = ('solid', 'hstripes', 'vstripes', 'dstripes', 'checker')

# Saturated or extreme colours: each has a channel <= 10 or >= 245, far from the grey backgrounds
# (channels 84..161, see canvas.Canvas), so an object's pixels always stand out from the background.
PALETTE = (
    ('red', (245, 30, 30)),
    ('green', (20, 200, 20)),
    ('blue', (20, 40, 245)),
    ('yellow', (250, 230, 10)),
    ('magenta', (245, 20, 220)),
    ('cyan', (10, 220, 245)),
    ('orange', (250, 140, 0)),
    ('purple', (130, 0, 200)),
    ('white', (250, 250, 250)),
    ('black', (10, 10, 10)),
    ('brown', (140, 70, 5)),
    ('pink', (255, 150, 200)),
)
_N_SOLID = len(SHAPES) * len(PALETTE)
_N_SECOND = len(PALETTE) - 1
MAX_LOOKS = _N_SOLID * (1 + (len(TEXTURES) - 1) * _N_SECOND)

Point = Tuple[float, float]


@dataclass(frozen=True)
class Look:
    """The appearance of one category.

    Attributes:
        index: the category index this look belongs to.
        shape: one of :data:`SHAPES`.
        colour: (name, RGB) of the fill.
        texture: one of :data:`TEXTURES`.
        second: (name, RGB) of the stripes/checks (same as ``colour`` when solid).
    """
    index: int
    shape: str
    colour: Tuple[str, Tuple[int, int, int]]
    texture: str
    second: Tuple[str, Tuple[int, int, int]]

    def describe(self) -> str:
        """A short human-readable description, e.g. ``'red ellipse'`` or ``'blue star, yellow hstripes'``."""
        text = f'{self.colour[0]} {self.shape}'
        if self.texture != 'solid':
            text += f', {self.second[0]} {self.texture}'
        return text


def category_look(index: int) -> Look:
    """The look of category index ``index`` (0 <= index < :data:`MAX_LOOKS`).

    Args:
        index: 0-based position of the category in its dataset's category list.

    Returns:
        The :class:`Look`; distinct indices give distinct looks.
    """
    if not 0 <= index < MAX_LOOKS:
        raise ValueError(f'look index {index} out of range [0, {MAX_LOOKS})')
    base, variant = index % _N_SOLID, index // _N_SOLID
    shape = SHAPES[base % len(SHAPES)]
    colour_idx = base // len(SHAPES)
    colour = PALETTE[colour_idx]
    if variant == 0:
        return Look(index, shape, colour, 'solid', colour)
    variant -= 1
    texture = TEXTURES[1 + variant % (len(TEXTURES) - 1)]
    second_idx = variant // (len(TEXTURES) - 1)
    # skip the fill colour itself so the stripes are always visible
    second = PALETTE[(colour_idx + 1 + second_idx) % len(PALETTE)]
    return Look(index, shape, colour, texture, second)


def _unit_polygon(shape: str) -> List[Point]:
    """Vertices of ``shape`` in unit coordinates (any scale; :func:`shape_polygon` fits them to a box)."""
    if shape == 'rectangle':
        return [(0, 0), (1, 0), (1, 1), (0, 1)]
    if shape == 'ellipse':
        return [(math.cos(t), math.sin(t)) for t in (2 * math.pi * i / 24 for i in range(24))]
    if shape == 'triangle':
        return [(0.5, 0), (1, 1), (0, 1)]
    if shape == 'diamond':
        return [(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5)]
    if shape == 'cross':
        a, b = 1 / 3, 2 / 3
        return [(a, 0), (b, 0), (b, a), (1, a), (1, b), (b, b), (b, 1), (a, 1), (a, b), (0, b), (0, a),
                (a, a)]
    if shape == 'ring':
        # a "C" (annulus with a gap on the right) so that it stays one simple polygon
        angles = [math.radians(45 + 270 * i / 18) for i in range(19)]
        outer = [(math.cos(t), math.sin(t)) for t in angles]
        inner = [(0.55 * math.cos(t), 0.55 * math.sin(t)) for t in reversed(angles)]
        return outer + inner
    if shape == 'hexagon':
        return [(0.25, 0), (0.75, 0), (1, 0.5), (0.75, 1), (0.25, 1), (0, 0.5)]
    if shape == 'star':
        tips = ((-math.pi / 2 + math.pi * i / 5, 1.0 if i % 2 == 0 else 0.45) for i in range(10))
        return [(math.cos(t) * r, math.sin(t) * r) for t, r in tips]
    raise ValueError(f'unknown shape {shape!r}; expected one of {SHAPES}')


def shape_polygon(shape: str, x0: float, y0: float, x1: float, y1: float) -> List[Point]:
    """Vertices of ``shape`` stretched to the box ``(x0, y0, x1, y1)``: the vertices' bounds are the box.

    Args:
        shape: one of :data:`SHAPES`.
        x0, y0, x1, y1: the box, pixels.

    Returns:
        The polygon as a list of (x, y) points; a simple (non self-intersecting) polygon.
    """
    pts = _unit_polygon(shape)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    ux0, uy0, ux1, uy1 = min(xs), min(ys), max(xs), max(ys)
    sx, sy = (x1 - x0) / (ux1 - ux0), (y1 - y0) / (uy1 - uy0)
    return [(x0 + (x - ux0) * sx, y0 + (y - uy0) * sy) for x, y in pts]
