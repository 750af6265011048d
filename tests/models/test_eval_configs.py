"""Each GLIP and MDETR evaluation config carries the official evaluation settings (the README evaluation tables).

Values are the official code's (microsoft/GLIP maskrcnn_benchmark/config/defaults.py and the README evaluation
commands; ashkamath/mdetr scripts/eval_lvis.py, datasets/coco.py, main.py); the README tables cite the lines.
"""
import re
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]

GLIP_POST = {'candidate_ranking': 'official', 'score_thr': 0.05, 'nms_pre': 1000, 'nms.iou_threshold': 0.6}
GLIP_EVAL = {
    'glip-t_zeroshot_coco-val2017.py': dict(
        protocol='coco', test_cfg=dict(GLIP_POST, max_per_img=100, box_end_offset=1, chunk_size=80)),
    'glip-t_zeroshot_lvis-minival-fixedap.py': dict(
        protocol='lvis-fixed', ann='coco/annotations/lvis_v1_minival_inserted_image_name.json',
        test_cfg=dict(GLIP_POST, max_per_img=300, merged_max_per_img=-1, box_end_offset=0, chunk_size=40)),
    'glip-l_zeroshot_lvis-minival-fixedap.py': dict(
        protocol='lvis-fixed', ann='coco/annotations/lvis_v1_minival_inserted_image_name.json',
        test_cfg=dict(GLIP_POST, max_per_img=300, merged_max_per_img=-1, box_end_offset=0, chunk_size=40)),
    'glip-t_zeroshot_lvis-val.py': dict(
        protocol='lvis-fixed', ann='lvis/annotations/lvis_v1_val.json',
        test_cfg=dict(GLIP_POST, max_per_img=300, merged_max_per_img=-1, box_end_offset=0, chunk_size=40)),
    'glip-t_zeroshot_flickr30k-val.py': dict(
        protocol='any-box', ann='flickr30k_entities/val.txt',
        test_cfg=dict(GLIP_POST, max_per_img=100, box_end_offset=0)),
    'glip-t_zeroshot_flickr30k-test.py': dict(
        protocol='any-box', ann='flickr30k_entities/test.txt',
        test_cfg=dict(GLIP_POST, max_per_img=100, box_end_offset=0)),
}
MDETR_EVAL = {
    'mdetr_r101_flickr30k-anybox.py': dict(protocol='any-box', ann='flickr30k_entities/test.txt',
                                           test_cfg=dict(grounding_reduce='max')),
    'mdetr_eb5_flickr30k-anybox.py': dict(protocol='any-box', ann='flickr30k_entities/test.txt',
                                          test_cfg=dict(grounding_reduce='max')),
    'mdetr_r101_flickr30k-mergedbox.py': dict(protocol='merged-box', ann='flickr30k_entities/test.txt',
                                              test_cfg=dict(grounding_reduce='max')),
    'mdetr_r101_lvis-1pct.py': dict(protocol='lvis-fixed', ann='lvis/annotations/lvis_v1_minival.json',
                                    test_cfg=dict(names_per_caption=1, max_per_img=None)),
    'mdetr_r101_lvis-10pct.py': dict(protocol='lvis-fixed', ann='lvis/annotations/lvis_v1_minival.json',
                                     test_cfg=dict(names_per_caption=1, max_per_img=None)),
    'mdetr_r101_lvis-100pct.py': dict(protocol='lvis-fixed', ann='lvis/annotations/lvis_v1_minival.json',
                                      test_cfg=dict(names_per_caption=1, max_per_img=None)),
}
CASES = [('glip', name, spec) for name, spec in GLIP_EVAL.items()] + \
        [('mdetr', name, spec) for name, spec in MDETR_EVAL.items()]


def _get(cfg, dotted: str):
    for key in dotted.split('.'):
        cfg = cfg[key]
    return cfg


@pytest.mark.parametrize('method, name, spec', CASES, ids=[c[1] for c in CASES])
def test_evaluation_config_has_the_official_settings(method, name, spec, tmp_path, monkeypatch):
    monkeypatch.setenv('OVD_DATA_ROOT', str(tmp_path))
    cfg = Config.fromfile(str(REPO / 'configs' / method / name))
    for key, value in spec['test_cfg'].items():
        assert _get(cfg.model.test_cfg, key) == value, f'{name}: test_cfg.{key}'
    evaluator = cfg.test_evaluator
    assert evaluator.protocol == spec['protocol']
    if spec['protocol'] in ('lvis-fixed', 'coco'):
        assert evaluator.type == 'OVDetectionMetric'
    dataset = cfg.test_dataloader.dataset
    if spec['protocol'] not in ('lvis-fixed', 'coco'):
        assert evaluator.type == 'Flickr30kRecallMetric' and tuple(evaluator.topk) == (1, 5, 10)
        # scored against the raw release, as the official evaluator reads it (not MDETR's merged json)
        assert dataset.type == 'Flickr30kEntitiesDataset' and dataset.data_prefix == dict(img='flickr30k-images/')
        assert dataset.get('box_convention', 'raw') == 'raw' and not dataset.get('merge_boxes', False)
    if 'ann' in spec:
        assert Path(dataset.data_root, dataset.ann_file) == tmp_path / spec['ann']
    if 'ann_file' in evaluator and 'ann' in spec:
        assert Path(evaluator.ann_file) == tmp_path / spec['ann']
    # Official input: PIL decoding without EXIF rotation, shorter side 800, longer <= 1333 (truncated), PIL bilinear.
    steps = {t['type']: t for t in dataset.pipeline}
    load = steps['LoadImageFromFile']
    assert (load.get('imdecode_backend'), load.get('color_type')) == ('pillow', 'color_ignore_orientation')
    resize = steps['TruncatingResize']
    assert (resize.sizes, resize.max_size, resize.backend) == (800, 1333, 'pillow')
    if method == 'glip' or spec['protocol'] == 'lvis-fixed':  # one image per GPU (GLIP; MDETR eval_lvis.py)
        assert cfg.test_dataloader.batch_size == 1


def test_glip_input_normalisation_and_text_budget():
    cfg = Config.fromfile(str(REPO / 'configs/glip/glip-t_zeroshot_lvis-val.py'))
    pre = cfg.model.data_preprocessor  # configs/pretrain/glip_Swin_T_O365_GoldG.yaml INPUT.PIXEL_MEAN/STD (BGR)
    assert (pre.mean, pre.std, pre.bgr_to_rgb, pre.pad_size_divisor) == (
        [103.53, 116.28, 123.675], [57.375, 57.12, 58.395], False, 32)
    assert cfg.model.max_tokens == 256


def _evaluation_rows(readme: Path):
    text = readme.read_text()
    match = re.search(r'^## Evaluation settings\n(.*?)(?=^## |\Z)', text, re.M | re.S)
    assert match, f'{readme} has no "## Evaluation settings" section'
    return [line for line in match.group(1).splitlines() if line.startswith('| ') and not line.startswith('| setting')]


@pytest.mark.parametrize('method', ['glip', 'mdetr'])
def test_readme_evaluation_table_points_at_existing_config_lines(method):
    """Every 'ours' cell of the evaluation table names a config file and a line of code in it."""
    rows = _evaluation_rows(REPO / 'configs' / method / 'README.md')
    assert len(rows) >= 8
    for row in rows:
        cells = [c.strip() for c in row.strip('|').split('|')]
        assert len(cells) == 4, row
        refs = re.findall(r'`?((?:configs|ovd)/[\w./-]+\.py):(\d+)', cells[2])
        assert refs, f'no file:line in the "ours" cell: {row}'
        for path, line in refs:
            lines = (REPO / path).read_text().splitlines()
            assert int(line) <= len(lines), f'{path}:{line} does not exist ({row})'
            code = lines[int(line) - 1].strip()
            assert code and not code.startswith('#'), f'{path}:{line} is blank or a comment ({row})'
