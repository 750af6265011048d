"""Fixtures shared by the data-layer tests."""
import os
import shutil

import pytest

COCO = 'coco_instances_val2014_100.json'


@pytest.fixture
def coco_root(tmp_path, fixtures_dir):
    """data/coco laid out as COCO 2017, both splits being the real 100-image fixture."""
    root = tmp_path / 'coco'
    (root / 'annotations').mkdir(parents=True)
    for split in ('train', 'val'):
        shutil.copy(fixtures_dir / COCO, root / 'annotations' / f'instances_{split}2017.json')
        os.chmod(root / 'annotations' / f'instances_{split}2017.json', 0o644)
    return root
