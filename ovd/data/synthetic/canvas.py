"""One synthetic image: a noisy grey background on which category looks are placed without overlap.

The canvas returns, for every drawn object, the exact polygon it painted (COCO/LVIS ``segmentation``), its box
and area, so annotations match the pixels. Objects never overlap (a gap of a few pixels is kept), hence no
occlusion makes a polygon wrong. Crowd regions (COCO ``iscrowd=1``) are a cluster of small copies of one look,
annotated by the run-length encoding of their union mask.
"""
import io
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .looks import Look, Point, shape_polygon

# x0, y0, x1, y1 in pixels, COCO's continuous convention: the object covers pixel columns x0 .. x1 - 1
Box = Tuple[int, int, int, int]

JPEG_QUALITY = 90
_JITTER = 8  # per-instance colour jitter (+-), keeps looks recognisable yet not pixel-identical


@dataclass
class DrawnObject:
    """What was painted for one annotation.

    Attributes:
        look: the category look used.
        polygons: polygons painted (one for an object, several for a crowd), each flat [x1, y1, x2, y2, ...].
        bbox: [x, y, w, h] (COCO convention) of the painted region.
        area: area in pixels (polygon area, or mask pixel count for a crowd).
        rle: uncompressed COCO run-length encoding of the union mask (crowds only).
    """
    look: Look
    polygons: List[List[float]]
    bbox: List[float]
    area: float
    rle: Optional[Dict] = None
    box: Box = field(default=(0, 0, 0, 0))

    @property
    def iscrowd(self) -> bool:
        return self.rle is not None


def _flat(polygon: Sequence[Point]) -> List[float]:
    return [round(float(v), 2) for p in polygon for v in p]


def polygon_area(flat: Sequence[float]) -> float:
    """Shoelace area of a flat polygon [x1, y1, x2, y2, ...]."""
    xs, ys = flat[0::2], flat[1::2]
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - ys[i] * xs[(i + 1) % n] for i in range(n))) / 2


def mask_to_rle(mask: np.ndarray) -> Dict:
    """Uncompressed COCO RLE (column-major runs, starting with a run of zeros) of a binary mask [H, W]."""
    flat = mask.astype(np.uint8).flatten(order='F')
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat.size and flat[0] == 1:
        runs = [0] + runs
    return {'counts': [int(r) for r in runs], 'size': [int(mask.shape[0]), int(mask.shape[1])]}


class Canvas:
    """A synthetic image being drawn.

    Args:
        rng: the image's own random generator (all randomness of this image comes from it).
        width: image width, pixels.
        height: image height, pixels.
    """

    def __init__(self, rng: np.random.Generator, width: int, height: int):
        self.rng = rng
        self.width, self.height = width, height
        # grey-ish background, channels within 84..161, far from every palette colour (see looks.PALETTE)
        low = (rng.integers(100, 146) + rng.integers(-8, 9, size=3) - 8).astype(np.uint8)  # 84..145
        noise = rng.integers(0, 17, size=(height, width, 3), dtype=np.uint8)
        pixels = noise + low  # no overflow: at most 161
        self.image = Image.fromarray(pixels, 'RGB')
        self._draw = ImageDraw.Draw(self.image)
        self._occupied: List[Box] = []

    # ---------------------------------------------------------------- placement
    def place(self, min_side: int, max_side: int, gap: int = 6, tries: int = 40) -> Optional[Box]:
        """Find a free box (integer corners) for a new object, or None when the image is full.

        Args:
            min_side: smallest box side, pixels.
            max_side: largest box side, pixels.
            gap: free pixels kept between this box and every other one.
            tries: random positions tried before giving up.
        """
        max_side = max(min_side, min(max_side, self.width - 4, self.height - 4))
        for attempt in range(tries):
            # shrink the size range as attempts fail so small objects still fit on crowded images
            hi = max(min_side, int(max_side * (1 - attempt / tries)))
            w = int(self.rng.integers(min_side, hi + 1))
            h = int(np.clip(round(w * self.rng.uniform(0.7, 1.4)), min_side, max_side))
            if w > self.width - 4 or h > self.height - 4:
                continue
            x0 = int(self.rng.integers(2, self.width - w - 1))
            y0 = int(self.rng.integers(2, self.height - h - 1))
            box = (x0, y0, x0 + w, y0 + h)
            if all(box[0] > o[2] + gap or box[2] < o[0] - gap or box[1] > o[3] + gap or box[3] < o[1] - gap
                   for o in self._occupied):
                self._occupied.append(box)
                return box
        return None

    # ---------------------------------------------------------------- drawing
    def _jittered(self, rgb: Tuple[int, int, int]) -> Tuple[int, int, int]:
        j = self.rng.integers(-_JITTER, _JITTER + 1, size=3).tolist()
        return tuple(min(255, max(0, c + d)) for c, d in zip(rgb, j))

    def _paint(self, look: Look, polygon: Sequence[Point]) -> None:
        fill = self._jittered(look.colour[1])
        if look.texture == 'solid':
            self._draw.polygon(polygon, fill=fill)
            return
        xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
        x0, y0 = int(np.floor(min(xs))), int(np.floor(min(ys)))
        w, h = int(np.ceil(max(xs))) - x0 + 1, int(np.ceil(max(ys))) - y0 + 1
        mask = Image.new('L', (w, h), 0)
        ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in polygon], fill=255)
        yy, xx = np.mgrid[0:h, 0:w]
        period = max(4, min(w, h) // 5)
        if look.texture == 'hstripes':
            on = (yy // (period // 2)) % 2 == 0
        elif look.texture == 'vstripes':
            on = (xx // (period // 2)) % 2 == 0
        elif look.texture == 'dstripes':
            on = ((xx + yy) // (period // 2)) % 2 == 0
        else:  # checker
            on = ((xx // period) + (yy // period)) % 2 == 0
        second = np.asarray(self._jittered(look.second[1]), np.uint8)
        tex = np.where(on[..., None], np.asarray(fill, np.uint8), second)
        self.image.paste(Image.fromarray(tex.astype(np.uint8), 'RGB'), (x0, y0), mask)

    def _paint_in(self, look: Look, box: Sequence[float]) -> List[Point]:
        """Paint ``look`` over the pixels of ``box`` (continuous coordinates); returns the annotation polygon.

        PIL fills every pixel whose integer coordinate lies in the polygon, end points included, so the
        painted polygon spans x0 .. x1 - 1 while the annotated one spans x0 .. x1: pixel i covers [i, i + 1).
        """
        x0, y0, x1, y1 = box
        self._paint(look, shape_polygon(look.shape, x0, y0, x1 - 1, y1 - 1))
        return shape_polygon(look.shape, x0, y0, x1, y1)

    def draw_object(self, look: Look, box: Box) -> DrawnObject:
        """Paint one instance of ``look`` filling ``box``; returns its annotation geometry."""
        flat = _flat(self._paint_in(look, box))
        xs, ys = flat[0::2], flat[1::2]
        x0, y0 = min(xs), min(ys)
        bbox = [round(x0, 2), round(y0, 2), round(max(xs) - x0, 2), round(max(ys) - y0, 2)]
        return DrawnObject(look, [flat], bbox, round(polygon_area(flat), 2), box=box)

    def draw_crowd(self, look: Look, box: Box) -> DrawnObject:
        """Paint a cluster of small copies of ``look`` in ``box`` (a COCO ``iscrowd=1`` region)."""
        x0, y0, x1, y1 = box
        cols = 3 if (x1 - x0) >= (y1 - y0) else 2
        rows = 5 - cols
        cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
        mask_img = Image.new('L', (self.width, self.height), 0)
        mask_draw = ImageDraw.Draw(mask_img)
        polygons = []
        for r in range(rows):
            for c in range(cols):
                if self.rng.random() < 0.2 and polygons:
                    continue  # a gap: crowds are irregular
                pad_x, pad_y = cw * self.rng.uniform(0.05, 0.2), ch * self.rng.uniform(0.05, 0.2)
                sub = (round(x0 + c * cw + pad_x), round(y0 + r * ch + pad_y),
                       round(x0 + (c + 1) * cw - pad_x), round(y0 + (r + 1) * ch - pad_y))
                polygons.append(_flat(self._paint_in(look, sub)))
                mask_draw.polygon(shape_polygon(look.shape, sub[0], sub[1], sub[2] - 1, sub[3] - 1), fill=1)
        mask = np.asarray(mask_img, dtype=np.uint8)
        ys, xs = np.nonzero(mask)
        bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                float(ys.max() - ys.min() + 1)]
        return DrawnObject(look, polygons, bbox, float(mask.sum()), rle=mask_to_rle(mask), box=box)

    def jpeg(self) -> bytes:
        """The image encoded as JPEG (deterministic for a given libjpeg)."""
        buf = io.BytesIO()
        # 4:4:4 chroma: with 4:2:0 the colour of small objects bleeds ~2 px beyond their outline
        self.image.save(buf, format='JPEG', quality=JPEG_QUALITY, subsampling=0)
        return buf.getvalue()
