"""MDETR's grounding files (mixed, modulated LVIS): phrases from shared spans, image folders, bad input."""
import json

import pytest

from ovd.data.datasets.mdetr_grounding import MDETRGroundingDataset, MDETRGroundingFormatError

CAPTION = 'the man on the left holding a red umbrella'


def write(tmp_path, images=None, annotations=None):
    data = {
        'images': images if images is not None else [
            dict(id=1, file_name='a.jpg', height=10, width=20, caption=CAPTION, data_source='coco'),
            dict(id=2, file_name='b.jpg', height=10, width=20, caption='a dog', data_source='vg'),
            dict(id=3, file_name='c.jpg', height=10, width=20, caption='no boxes here', data_source='gqa')],
        'annotations': annotations if annotations is not None else [
            dict(id=1, image_id=1, bbox=[1, 2, 3, 4], tokens_positive=[[0, 7]]),
            dict(id=2, image_id=1, bbox=[5, 5, 2, 2], tokens_positive=[[30, 42]]),
            dict(id=3, image_id=1, bbox=[0, 0, 4, 4], tokens_positive=[[0, 7]]),
            dict(id=4, image_id=2, bbox=[0, 0, 1, 1], tokens_positive=[[0, 5]])],
        'categories': [{'id': 1, 'name': 'object'}],
    }
    path = tmp_path / 'final_mixed_train.json'
    path.write_text(json.dumps(data))
    return path


def test_samples_phrases_and_image_folders(tmp_path):
    ds = MDETRGroundingDataset(data_root=str(tmp_path), ann_file=str(write(tmp_path)),
                           data_prefix=dict(coco='coco/train2014/', vg='gqa/images/'), lazy_init=False)
    assert len(ds) == 2  # the image without boxes is left out
    first = ds.get_data_info(0)
    assert first['img_path'].endswith('coco/train2014/a.jpg') and first['text'] == CAPTION
    assert first['tokens_positive'] == [[[0, 7]], [[30, 42]]]
    assert first['phrases'] == ['the man', 'red umbrella']
    assert [i['bbox_label'] for i in first['instances']] == [0, 1, 0]
    assert first['instances'][0]['bbox'] == [1, 2, 4, 6]
    assert ds.get_data_info(1)['img_path'].endswith('gqa/images/b.jpg')


def test_single_image_folder_without_data_source(tmp_path):
    images = [dict(id=1, file_name='000000000139.jpg', height=10, width=20, caption='cat. dog')]
    annotations = [dict(id=1, image_id=1, bbox=[1, 1, 2, 2], tokens_positive=[[5, 8]])]
    path = write(tmp_path, images=images, annotations=annotations)
    ds = MDETRGroundingDataset(data_root=str(tmp_path), ann_file=str(path),
                               data_prefix=dict(img='train2017/'))
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('train2017/000000000139.jpg') and info['phrases'] == ['dog']


@pytest.mark.parametrize('ann,match', [
    (dict(id=7, image_id=9, bbox=[0, 0, 1, 1], tokens_positive=[[0, 1]]),
     r'annotations\[0\] \(id=7\).*image_id'),
    (dict(id=7, image_id=2, bbox=[0, 0, 0, 1], tokens_positive=[[0, 1]]), r'annotations\[0\] \(id=7\).*bbox'),
    (dict(id=7, image_id=2, bbox=[0, 0, 1, 1], tokens_positive=[[0, 50]]), r"id=7\).*'tokens_positive'"),
    (dict(id=7, image_id=2, bbox=[0, 0, 1, 1]), r"id=7\).*'tokens_positive': missing"),
])
def test_bad_annotations_are_named(tmp_path, ann, match):
    path = write(tmp_path, annotations=[ann])
    with pytest.raises(MDETRGroundingFormatError, match=match):
        MDETRGroundingDataset(ann_file=str(path), lazy_init=False)
