"""RandomCropKeepBoxes: crops that keep every box of a grounding sample (MDETR's cautious crop)."""
import numpy as np
import pytest
from mmdet.datasets.transforms import RandomCrop
from mmdet.structures.bbox import HorizontalBoxes

from ovd.data.grounding_crop import RandomCropKeepBoxes


def results():
    # three small boxes clustered in one corner of a 200 x 200 image
    boxes = np.array([[10, 10, 30, 30], [35, 12, 50, 28], [15, 40, 40, 55]], dtype=np.float32)
    return dict(img=np.zeros((200, 200, 3), np.uint8), img_shape=(200, 200),
                gt_bboxes=HorizontalBoxes(boxes), gt_bboxes_labels=np.array([0, 1, 2]),
                gt_ignore_flags=np.zeros(3, dtype=bool))


def test_every_box_survives_where_a_single_draw_loses_some():
    kwargs = dict(crop_type='absolute_range', crop_size=(60, 100), allow_negative_crop=True)
    np.random.seed(0)
    plain = [len(RandomCrop(**kwargs).transform(results())['gt_bboxes']) for _ in range(30)]
    ours = [RandomCropKeepBoxes(**kwargs).transform(results()) for _ in range(30)]
    assert min(plain) < 3
    assert all(len(r['gt_bboxes']) == 3 for r in ours)
    assert all(r['img'].shape[0] <= 100 and r['img'].shape[1] <= 100 for r in ours)
    assert all(r['gt_bboxes_labels'].tolist() == [0, 1, 2] for r in ours)


def test_gives_up_after_max_tries_with_the_last_draw():
    far = results()
    far['gt_bboxes'] = HorizontalBoxes(np.array([[0, 0, 10, 10], [190, 190, 200, 200]], dtype=np.float32))
    far['gt_bboxes_labels'] = np.array([0, 1])
    far['gt_ignore_flags'] = np.zeros(2, dtype=bool)
    out = RandomCropKeepBoxes(crop_type='absolute_range', crop_size=(60, 100), allow_negative_crop=True,
                              max_tries=5).transform(far)
    assert out is not None and len(out['gt_bboxes']) < 2
    with pytest.raises(ValueError, match='max_tries'):
        RandomCropKeepBoxes(crop_size=(10, 10), max_tries=0)
