"""Every config resolves its dataset and evaluator paths under the data root, once.

mmengine joins a dataset's ``data_root`` with its relative ``ann_file`` and ``data_prefix`` folders; an
``ann_file`` that already starts with the root doubles it (MDETR's configs once looked for
``data/data/mdetr_annotations/...`` and ``data/coco/data/lvis/...``). Each config is loaded with
``OVD_DATA_ROOT`` pointing at a fake root and every path a dataset or evaluator would open is resolved as
mmengine does.
"""
import os.path as osp
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)
# Configs whose evaluator still names 'data/...' literally (OVD_DATA_ROOT does not move it); their owner
# should build it from the dataset base's data_root. The test fails once an entry no longer needs listing.
LITERAL_DATA_ROOT = {
    'configs/baron/baron-kd-ensemble_r50-fpn_45kx4_ov-lvis.py',
    'configs/baron/baron-kd_r50-c4_90k_ov-coco.py',
    'configs/baron/baron-kd_r50-fpn_45kx4_ov-lvis.py',
    'configs/baron/baron-kd_r50-fpn_90kx2_ov-coco.py',
    'configs/baron/faster-rcnn-base-only_r50-c4_90k_ov-coco.py',
    'configs/baron/faster-rcnn-base-only_r50-fpn_90kx2_ov-coco.py',
    'configs/baron/mask-rcnn-base-only_r50-fpn_45kx4_ov-lvis.py',
    # configs/vild/_base_/ov-{coco,lvis}_lsj-1024.py name their evaluators' ann_file literally
    'configs/vild/vild-ensemble_r50-fpn_lsj-180k_ov-coco.py',
    'configs/vild/vild-ensemble_r50-fpn_lsj-180k_ov-lvis.py',
    'configs/vild/vild-text_r50-fpn_lsj-180k_ov-coco.py',
    'configs/vild/vild-text_r50-fpn_lsj-180k_ov-lvis.py',
    'configs/vild/vild_r50-fpn_lsj-180k_ov-coco.py',
    'configs/vild/vild_r50-fpn_lsj-180k_ov-lvis.py',
}


def _datasets(node) -> Iterator[dict]:
    """Dataset dicts inside a dataloader's ``dataset`` (wrappers and ``ConcatDataset`` included)."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _datasets(item)
    elif isinstance(node, dict):
        if 'ann_file' in node or 'data_prefix' in node:
            yield node
        for key in ('dataset', 'datasets'):
            if key in node:
                yield from _datasets(node[key])


def resolved_paths(cfg: Config) -> List[Tuple[str, str]]:
    """``(where, path)`` for every annotation file and image folder the config's datasets and evaluators open."""
    out = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for ds in _datasets((cfg.get(loader) or {}).get('dataset')):
            root = ds.get('data_root') or ''
            if ds.get('ann_file'):
                out.append((f'{loader} ann_file', ds['ann_file'] if osp.isabs(ds['ann_file'])
                            else osp.join(root, ds['ann_file'])))
            for key, folder in (ds.get('data_prefix') or {}).items():
                if isinstance(folder, str) and folder:
                    out.append((f'{loader} data_prefix.{key}', osp.join(root, folder)))
    for name in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(name) or []
        for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            if ev.get('ann_file'):
                out.append((f'{name} ann_file', ev['ann_file']))
    return out


def path_problem(path: str, root: str, literal_ok: bool = False) -> str:
    """Why ``path`` is not one path under ``root`` ('' when it is)."""
    path = osp.normpath(path)
    for base in [root] + (['data'] if literal_ok else []):
        if path == base or path.startswith(base + osp.sep):
            rest = Path(path[len(base):].lstrip(osp.sep)).parts
            doubled = {osp.basename(root), 'data'} & set(rest)
            return f'the root appears again inside it ({sorted(doubled)})' if doubled else ''
    return f'not under the data root {root}'


@pytest.mark.parametrize('config', CONFIGS, ids=lambda p: str(p.relative_to(REPO / 'configs')))
def test_dataset_and_evaluator_paths_resolve_once_under_the_data_root(config, tmp_path, monkeypatch):
    root = str(tmp_path / 'fakedata')
    monkeypatch.setenv('OVD_DATA_ROOT', root)
    cfg = Config.fromfile(str(config))
    paths = resolved_paths(cfg)
    assert paths, f'{config}: no dataset or evaluator path found'
    rel = str(config.relative_to(REPO))
    problems = [f'{where}: {path}: {why}' for where, path in paths
                if (why := path_problem(path, root, literal_ok=rel in LITERAL_DATA_ROOT))]
    assert not problems, f'{rel}:\n' + '\n'.join(problems)
    if rel in LITERAL_DATA_ROOT:
        assert any(path_problem(p, root) for _, p in paths), f'{rel} no longer needs LITERAL_DATA_ROOT'


def test_the_checker_catches_a_doubled_root(tmp_path):
    """The MDETR LVIS bug: data_root 'data/coco/' + ann_file 'data/lvis/annotations/lvis_v1_minival.json'."""
    root = str(tmp_path / 'fakedata')
    cfg = Config(dict(val_dataloader=dict(dataset=dict(
        type='LVISV1Dataset', data_root=root + '/coco/', ann_file=root + '/lvis/x.json', data_prefix=dict(img='')))))
    assert resolved_paths(cfg) == [('val_dataloader ann_file', root + '/lvis/x.json')]  # absolute: not joined
    assert path_problem(osp.join(root + '/coco/', 'data/lvis/x.json'), root) != ''
    assert path_problem(osp.join(root, 'fakedata/x.json'), root) != ''
    assert path_problem('data/coco/x.json', root) != ''
    assert path_problem(osp.join(root, 'coco/annotations/x.json'), root) == ''
