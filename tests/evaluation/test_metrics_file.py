"""The metrics hand-over file: what tools/test.py writes from runner.test() is what run records read back."""
import json

import numpy as np
import pytest

from ovd.evaluation.metrics_file import METRICS_FILE, read_metrics, write_metrics


def test_written_metrics_read_back_as_numbers(tmp_path):
    run = tmp_path / '20261206_101500'
    run.mkdir()
    metrics = {'coco/bbox_mAP': 0.1234, 'coco/bbox_mAP_50': np.float32(0.5), 'lvis/bbox_APr': np.float64(0.25),
               'coco/count': np.int64(3), 'coco/bbox_mAP_copypaste': '0.123 0.500', 'flag': True,
               'coco/per_class': np.array([0.1, 0.2])}
    path = write_metrics(run, metrics)
    assert path == run / METRICS_FILE
    data = json.loads(path.read_text())
    assert data['coco/bbox_mAP_50'] == 0.5 and data['coco/per_class'] == [0.1, 0.2] and data['flag'] is True
    assert read_metrics(tmp_path) == {'coco/bbox_mAP': 0.1234, 'coco/bbox_mAP_50': 0.5, 'lvis/bbox_APr': 0.25,
                                      'coco/count': 3.0}


def test_the_latest_run_wins_and_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        read_metrics(tmp_path)
    for stamp, value in (('20261206_101500', 0.1), ('20261206_111500', 0.2)):
        (tmp_path / stamp).mkdir()
        write_metrics(tmp_path / stamp, {'coco/bbox_mAP': value})
    assert read_metrics(tmp_path) == {'coco/bbox_mAP': 0.2}
    (tmp_path / '20261206_121500').mkdir()
    (tmp_path / '20261206_121500' / METRICS_FILE).write_text('[1, 2]')
    with pytest.raises(ValueError, match='expected a JSON object'):
        read_metrics(tmp_path)
