"""Small hand-built annotation files in the real formats (LVIS v1, Objects365 v1/v2) for the dataset tests."""
import json
import random
from pathlib import Path
from typing import Dict

from ovd.data.vocab import get_vocabulary


def lvis_v1_file(path: Path) -> Dict:
    """Four COCO images (two train2017, two val2017) with boxes of a rare, a common and a frequent class."""
    vocab = get_vocabulary('lvis_v1')
    rare, common, frequent = (vocab[vocab.indices(frequency=f)[0]].id for f in 'rcf')
    categories = [dict(id=c.id, name=c.name, synonyms=list(c.synonyms), frequency=c.frequency,
                       image_count=1, instance_count=1, synset='x.n.01', **{'def': 'x'}) for c in vocab]
    images = []
    for i, split in enumerate(['train2017', 'val2017', 'train2017', 'val2017']):
        image_id = 100 + i
        images.append(dict(id=image_id, height=480, width=640, license=1,
                           coco_url=f'http://images.cocodataset.org/{split}/{image_id:012d}.jpg',
                           neg_category_ids=[rare, 2], not_exhaustive_category_ids=[frequent]))
    anns = []
    for k, (image_id, cat) in enumerate([(100, rare), (100, common), (101, frequent), (101, rare),
                                         (102, frequent), (102, frequent), (103, common)]):
        anns.append(dict(id=k + 1, image_id=image_id, category_id=cat, bbox=[10.0 + k, 20.0, 30.5, 40.25],
                         area=30.5 * 40.25, segmentation=[[10, 20, 40, 20, 40, 60]]))
    data = dict(info={}, licenses=[], images=images, annotations=anns, categories=categories)
    path.write_text(json.dumps(data))
    return dict(rare=rare, common=common, frequent=frequent, data=data)


# v2 categories given a trailing space in the test file (the release has names with trailing spaces; the
# vocabulary check strips them, prepared files keep them)
O365_V2_TRAILING_SPACE_IDS = (1, 197)


def objects365_file(path: Path, version: str = 'v2') -> Dict:
    """Three images (one of them listed but missing from the release) with the release's raw category names,
    shaped like the real files: v1 has its top-level ``type``/``licenses``/``info`` and its ``categories`` in a
    shuffled order, images ``obj365_train_<12-digit id>.jpg`` (id 6 is one of the three v1 train images missing
    from the release); v2 has ``images/v1|v2/patchN/`` file names and names with trailing spaces."""
    vocab = get_vocabulary(f'objects365_{version}')
    if version == 'v2':
        categories = [dict(id=c.id, name=c.source_name + ' ' * (c.id in O365_V2_TRAILING_SPACE_IDS))
                      for c in vocab]
        ids = [1, 2, 3]
        names = ['images/v1/patch0/objects365_v1_00000001.jpg',
                 'images/v2/patch16/objects365_v2_00900001.jpg',
                 'images/v1/patch6/objects365_v1_00320532.jpg']
        extra = {}
    else:
        categories = [dict(id=c.id, name=c.source_name) for c in vocab]
        random.Random(0).shuffle(categories)
        ids = [1, 2, 6]
        names = [f'obj365_train_{i:012d}.jpg' for i in ids]
        extra = dict(type='instances', licenses=[{'id': 1, 'name': 'x', 'url': ''}], info={'year': 2019})
    images = [dict(id=i, file_name=n, height=400, width=600) for i, n in zip(ids, names)]
    anns = [dict(id=1, image_id=ids[0], category_id=38, bbox=[1, 2, 30, 40], area=1200, iscrowd=0),
            dict(id=2, image_id=ids[1], category_id=197, bbox=[5, 5, 50, 50], area=2500, iscrowd=0),
            dict(id=3, image_id=ids[2], category_id=1, bbox=[0, 0, 10, 10], area=100, iscrowd=0),
            dict(id=4, image_id=ids[1], category_id=1, bbox=[7, 7, 20, 20], area=400, iscrowd=1)]
    data = dict(**extra, images=images, annotations=anns, categories=categories)
    path.write_text(json.dumps(data))
    return data
