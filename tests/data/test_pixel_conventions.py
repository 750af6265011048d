"""The official GLIP/MDETR resize rule and GLIP's inclusive-pixel ground truth, against hand-computed values."""
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.registry import init_default_scope
from PIL import Image

from ovd.data.pixel_conventions import InclusivePixelBoxes, TruncatingResize, truncated_resize_shape
from ovd.registry import TRANSFORMS


@pytest.mark.parametrize('hw, expected', [
    ((480, 640), (800, 1066)),   # int(800 * 640 / 480) = int(1066.67); mmcv's imrescale rounds to 1067
    ((640, 480), (1066, 800)),
    ((400, 1000), (533, 1332)),  # long side capped: size = round(1333 * 400 / 1000) = 533, int(533 * 2.5) = 1332
    ((800, 800), (800, 800)),    # shorter side already 800: unchanged
    ((375, 500), (800, 1066)),
])
def test_truncated_resize_shape(hw, expected):
    assert truncated_resize_shape(*hw, 800, 1333) == expected


def test_truncating_resize_equals_a_pil_bilinear_resize_and_scales_boxes():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    boxes = HorizontalBoxes(np.array([[8.0, 4.0, 40.0, 30.0]], np.float32))
    out = TruncatingResize(sizes=30, max_size=1333)(dict(img=img.copy(), gt_bboxes=boxes,
                                                         img_shape=img.shape[:2]))
    # 64 x 48 -> shorter side 30: height 30, width int(30 * 64 / 48) = 40
    assert out['img_shape'] == (30, 40)
    expected = np.asarray(Image.fromarray(img).resize((40, 30), Image.BILINEAR))
    np.testing.assert_array_equal(out['img'], expected)
    assert out['scale_factor'] == (40 / 64, 30 / 48)
    np.testing.assert_allclose(out['gt_bboxes'].numpy(), [[5.0, 2.5, 25.0, 18.75]], rtol=1e-6)


def test_truncating_resize_draws_from_several_sizes():
    img = np.zeros((48, 64, 3), np.uint8)
    shapes = {TruncatingResize(sizes=[20, 30])(dict(img=img.copy()))['img_shape'] for _ in range(40)}
    assert shapes == {(20, 26), (30, 40)}


def test_truncating_resize_rejects_bad_sizes():
    with pytest.raises(ValueError, match='sizes'):
        TruncatingResize(sizes=[800, 0])


def test_inclusive_pixel_boxes_subtract_one_clip_and_drop_empty():
    boxes = HorizontalBoxes(np.array([[10, 20, 30, 40],    # COCO [10, 20, 20, 20] -> inclusive (10, 20, 29, 39)
                                      [60, 0, 70, 10],     # past the right edge of a 64-px image -> x2 = 63
                                      [5, 5, 6, 6]],       # one pixel: (5, 5, 5, 5) has no extent -> dropped
                                     np.float32))
    results = dict(img=np.zeros((48, 64, 3), np.uint8), img_shape=(48, 64), gt_bboxes=boxes,
                   gt_bboxes_labels=np.array([3, 4, 5]), gt_ignore_flags=np.array([False, False, False]))
    out = InclusivePixelBoxes()(results)
    np.testing.assert_array_equal(out['gt_bboxes'].numpy(), [[10, 20, 29, 39], [60, 0, 63, 9]])
    assert out['gt_bboxes_labels'].tolist() == [3, 4]
    assert out['gt_ignore_flags'].tolist() == [False, False]


def test_glip_flip_mirrors_inclusive_boxes():
    """BoxList.transpose(FLIP_LEFT_RIGHT): x1' = W - x2 - 1, x2' = W - x1 - 1 (mmdet's RandomFlip_GLIP)."""
    init_default_scope('ovd')
    flip = TRANSFORMS.build(dict(type='RandomFlip_GLIP', prob=1.0))
    out = flip(dict(img=np.zeros((48, 64, 3), np.uint8), img_shape=(48, 64),
                    gt_bboxes=HorizontalBoxes(np.array([[10, 20, 29, 39]], np.float32))))
    np.testing.assert_array_equal(out['gt_bboxes'].numpy(), [[64 - 29 - 1, 20, 64 - 10 - 1, 39]])


def test_pil_loading_without_exif_rotation_equals_the_official_image_open(tmp_path):
    """GLIP and MDETR read ``Image.open(path).convert('RGB')``, which ignores the EXIF orientation tag; mmcv's
    'color' flag would rotate such an image, 'color_ignore_orientation' (the evaluation configs') does not."""
    rng = np.random.default_rng(0)
    path = tmp_path / 'rotated.jpg'
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise when displayed
    Image.fromarray(rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)).save(path, exif=exif.tobytes())
    official = np.asarray(Image.open(path).convert('RGB'))[..., ::-1]  # BGR, as mmcv's channel order
    init_default_scope('ovd')
    load = TRANSFORMS.build(dict(type='LoadImageFromFile', imdecode_backend='pillow',
                                 color_type='color_ignore_orientation'))
    np.testing.assert_array_equal(load(dict(img_path=str(path)))['img'], official)
    rotating = TRANSFORMS.build(dict(type='LoadImageFromFile', imdecode_backend='pillow'))
    assert rotating(dict(img_path=str(path)))['img'].shape[:2] == (30, 20)
