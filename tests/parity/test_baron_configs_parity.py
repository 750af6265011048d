"""ovd's resolved BARON configs against the official hyper-parameter table of the parity fixture.

The table (``../shared/fixtures/parity/baron/README.md``, "Official hyper-parameters of ovdet's BARON configs") was
resolved from ovdet's configs with mmengine; each row is read here and compared with the same setting of ovd's
config (mmengine ``Config.fromfile``). A setting may differ only where :data:`DIFFERENCES` names it, and then
``configs/baron/README.md``'s fidelity table must list the row. A row without a reader here fails: new official
settings are never skipped silently.
"""
import ast
import os
import re
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs' / 'baron'
COLUMNS = {  # fixture column -> ovd config
    'OV-COCO R50-FPN 90kx2': 'baron-kd_r50-fpn_90kx2_ov-coco.py',
    'OV-COCO R50-C4 90k': 'baron-kd_r50-c4_90k_ov-coco.py',
    'OV-LVIS R50-FPN 45kx4': 'baron-kd_r50-fpn_45kx4_ov-lvis.py',
}
ENSEMBLE = 'baron-kd-ensemble_r50-fpn_45kx4_ov-lvis.py'
# official value -> ours, where the two name the same computation
EQUIVALENT = {
    'CustomRPNHead': 'RPNHead',  # mmdet's RPNHead + scores.float() before NMS (an AMP dtype fix)
    'coco_clip_hand_craft_attn12.npy': 'recomputed: vild templates, attn12',  # tools/hand_craft_prompt.py recipe
}
# (setting, column) -> why ours differs; each row is in configs/baron/README.md's fidelity table
DIFFERENCES = {
    ('classes scored by the box head', column): '65 OV classes (ovdet: 80, 15 unused with weight 0)'
    for column in ('OV-COCO R50-FPN 90kx2', 'OV-COCO R50-C4 90k')}


_CACHE: Dict[str, Config] = {}


def _load(name: str) -> Config:
    if name not in _CACHE:
        _CACHE[name] = Config.fromfile(str(CONFIG_DIR / name))
    return _CACHE[name]


def _head(cfg):
    return cfg.model.roi_head.bbox_head


def _distill(cfg):
    return cfg.model.roi_head.distill


def _sources(cfg):
    """The training datasets (detection first, then distillation when separate), repeat-factor wrappers kept."""
    dataset = cfg.train_dataloader.dataset
    return list(dataset.datasets) if dataset.type == 'ConcatDataset' else [dataset]


def _unwrap(dataset):
    return dataset.dataset if dataset.type == 'ClassBalancedDataset' else dataset


def _train_dataset(cfg):
    return _unwrap(_sources(cfg)[0])


def _kd_dataset(cfg):
    return _unwrap(_sources(cfg)[-1])


def _separate_batches(cfg):
    """(detection, distillation) images per GPU: mmdet GroupMultiSourceSampler's source_ratio, or one shared batch."""
    sampler = cfg.train_dataloader.sampler
    if sampler.type in ('GroupMultiSourceSampler', 'MultiSourceSampler'):
        assert sampler.batch_size == cfg.train_dataloader.batch_size == sum(sampler.source_ratio)
        branches = [step.branch_field for d in _sources(cfg) for step in _unwrap(d).pipeline
                    if step.type == 'MultiBranch']
        assert branches == [['det_batch', 'kd_batch']] * 2 and cfg.model.data_preprocessor.type == \
            'BaronDataPreprocessor'
        return tuple(sampler.source_ratio)
    return (cfg.train_dataloader.batch_size,)


def _images_per_gpu(split):
    """ovdet's row counts 2 detection + 2 distillation images as 4; anything else must not compare equal."""
    if len(split) == 2 and split[0] == split[1]:
        return sum(split)
    return f'batch split {split}'


def _repeat_factor(cfg):
    thresholds = {d.get('oversample_thr') for d in _sources(cfg)}
    return thresholds.pop() if len(thresholds) == 1 else tuple(sorted(thresholds, key=str))


def _resize_scales(cfg):
    for step in _train_dataset(cfg).pipeline:
        if step.type == 'RandomChoiceResize':
            return [tuple(s) for s in step.scales]
        if step.type == 'Resize':
            return [tuple(step.scale)]
    raise AssertionError('no resize in the training pipeline')


def _box_norm(cfg):
    if cfg.model.roi_head.get('shared_head') is not None:  # C4: res5 is the box head's trunk
        part = cfg.model.roi_head.shared_head
        return part.norm_cfg.type, part.norm_cfg.requires_grad, part.norm_eval
    head = _head(cfg)
    return head.norm_cfg.type, head.norm_cfg.requires_grad, head.get('norm_eval', False)


def _class_embeddings(cfg):
    source = _head(cfg).class_embeddings
    if isinstance(source, str):
        return os.path.basename(source)
    return f"recomputed: {source.get('templates', 'vild')} templates, {source.get('feature', 'projected')}"


def _milestones(cfg):
    return [s for s in cfg.param_scheduler if s.type == 'MultiStepLR'][0].milestones


def _warmup(cfg):
    warm = [s for s in cfg.param_scheduler if s.type == 'LinearLR'][0]
    return warm.start_factor, warm.end


def _regressor(cfg):
    reg = _head(cfg).get('reg_predictor_cfg', dict(type='Linear'))
    return '-'.join(layer.type for layer in reg) if isinstance(reg, list) else reg.type


def _bg_weight(cfg):
    weights = _head(cfg).loss_cls.get('class_weight')
    return 1.0 if weights is None else weights[-1]


READERS: Dict[str, Callable[[Config], Any]] = {
    'RPN head (DetachRPNHead: cls branch on detached features + extra conv)': lambda c: c.model.rpn_head.type,
    'boxes_cache start_iter (None: no cache)':
        lambda c: (_distill(c).get('boxes_cache') or {}).get('start_iter'),
    'background class weight in the CE loss': _bg_weight,
    'box-head norm (type, requires_grad, norm_eval); C4: res5 shared head': _box_norm,
    'test score_thr': lambda c: c.model.test_cfg.rcnn.score_thr,
    'test max_per_img': lambda c: c.model.test_cfg.rcnn.max_per_img,
    'train resize scales (keep_ratio)': _resize_scales,
    'use_attn12_output (classifier on the last block output of the end token, before ln_final/proj)':
        lambda c: _head(c).get('use_attn12_output', False),
    'max_groups (bags per proposal)': lambda c: _distill(c).sampling.max_groups,
    'SGD lr': lambda c: c.optim_wrapper.optimizer.lr,
    'iterations': lambda c: c.train_cfg.max_iters,
    'lr steps (MultiStepLR milestones)': _milestones,
    'weight decay': lambda c: c.optim_wrapper.optimizer.weight_decay,
    'warmup (LinearLR start_factor, iterations)': _warmup,
    'images per GPU (ovdet: 2 detection + 2 distillation, separate images)':
        lambda c: _images_per_gpu(_separate_batches(c)),
    'distillation images include images without base annotations (filter_empty_gt=False)':
        lambda c: not _kd_dataset(c).filter_cfg.filter_empty_gt,
    'gradient clipping': lambda c: c.optim_wrapper.get('clip_grad'),
    'optimizer wrapper': lambda c: c.optim_wrapper.type,
    'classes scored by the box head': lambda c: _head(c).num_classes,
    'box regressor': _regressor,
    'class embeddings file': _class_embeddings,
    'pseudo words per region': lambda c: _head(c).num_words,
    'cls_temp': lambda c: _head(c).cls_temp,
    'test_cls_temp': lambda c: _head(c).get('test_cls_temp') or _head(c).cls_temp,
    'bag_temp': lambda c: _distill(c).bag_temp,
    'single_temp': lambda c: _distill(c).single_temp,
    'bag_weight': lambda c: _distill(c).bag_weight,
    'single_weight': lambda c: _distill(c).single_weight,
    'queue length': lambda c: _distill(c).queue_length,
    'proposals topk': lambda c: _distill(c).seeds.topk,
    'objectness_thr': lambda c: _distill(c).seeds.objectness_thr,
    'area_ratio_thr (of the image area)': lambda c: _distill(c).seeds.area_ratio_thr,
    'shape_ratio_thr': lambda c: _distill(c).seeds.shape_ratio_thr,
    'nms_thr': lambda c: _distill(c).seeds.nms_thr,
    'max_permutations': lambda c: _distill(c).sampling.max_permutations,
    'alpha / cut_off_thr / base_probability / interval': lambda c: tuple(
        _distill(c).sampling[k] for k in ('alpha', 'cut_off_thr', 'base_probability', 'interval')),
    'use_gt (GT boxes added as proposals)': lambda c: _distill(c).seeds.use_gt,
    'words_drop_ratio': lambda c: _head(c).words_drop_ratio,
    'anchor scale_major': lambda c: c.model.rpn_head.anchor_generator.scale_major,
    'backbone (norm type, norm_eval, frozen_stages)': lambda c: (
        c.model.backbone.norm_cfg.type, c.model.backbone.norm_eval, c.model.backbone.frozen_stages),
    'load_from': lambda c: os.path.basename(c.load_from) if c.get('load_from') else None,
    'LVIS repeat-factor sampling oversample_thr': _repeat_factor,
    'LVIS mask head class_agnostic': lambda c: c.model.roi_head.mask_head.class_agnostic,
    'ensemble factor (lambda) (ensemble config)': lambda c: _load(ENSEMBLE).model.roi_head.bbox_head.ensemble_weight,
    'distillation branch norm (type, requires_grad, norm_eval) (ensemble config)': lambda c: (
        _head(_load(ENSEMBLE)).norm_cfg.type, _head(_load(ENSEMBLE)).norm_cfg.requires_grad,
        _head(_load(ENSEMBLE)).get('norm_eval', False)),
}
NOT_IN_CONFIGS = {'GPUs (not in the configs)'}  # stated in the README; no config value to compare


def official_table(readme: Path):
    """Rows ``(setting, {column: value})`` of the fixture README's official table; '-' cells are left out."""
    text = readme.read_text()
    section = text[text.index("## Official hyper-parameters of ovdet's BARON configs"):]
    lines = [line for line in section.splitlines() if line.startswith('|')]
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip('|').split('|')]
        values = {}
        for column, cell in zip(header[1:], cells[1:]):
            if cell == '-':
                continue
            match = re.match(r'`([^`]*)`', cell)
            if match is None:
                values[column] = cell
                continue
            try:
                values[column] = ast.literal_eval(match.group(1))
            except (ValueError, SyntaxError):
                values[column] = match.group(1)
        rows.append((cells[0], values))
    return header[1:], rows


def same(official: Any, ours: Any) -> bool:
    official = EQUIVALENT.get(official, official) if isinstance(official, str) else official
    if isinstance(official, (list, tuple)) and isinstance(ours, (list, tuple)):
        return len(official) == len(ours) and all(same(a, b) for a, b in zip(official, ours))
    if isinstance(official, dict) and isinstance(ours, dict):
        return set(official) == set(ours) and all(same(official[k], ours[k]) for k in official)
    if isinstance(official, bool) or isinstance(ours, bool) or official is None or ours is None:
        return official == ours
    if isinstance(official, (int, float)) and isinstance(ours, (int, float)):
        return ours == pytest.approx(official, rel=1e-9)
    if isinstance(official, str) and isinstance(ours, str) and official.endswith('.pth'):
        return os.path.basename(official) == ours
    return official == ours


@pytest.fixture(scope='module')
def table(fixtures_dir):
    readme = fixtures_dir / 'parity' / 'baron' / 'README.md'
    if not readme.is_file():
        pytest.fail(f'BARON parity fixture README not found at {readme}')
    return official_table(readme)


def test_table_columns_are_ours(table):
    columns, rows = table
    assert columns == list(COLUMNS)
    assert len(rows) >= 40


def test_every_official_setting_has_a_reader(table):
    _, rows = table
    missing = [setting for setting, _ in rows if setting not in READERS and setting not in NOT_IN_CONFIGS]
    assert not missing, f'official settings without a reader: {missing}'


def test_resolved_configs_equal_the_official_table(table):
    _, rows = table
    wrong = []
    for setting, values in rows:
        if setting in NOT_IN_CONFIGS:
            continue
        for column, official in values.items():
            ours = READERS[setting](_load(COLUMNS[column]))
            if not same(official, ours) and (setting, column) not in DIFFERENCES:
                wrong.append(f'{setting} [{column}]: official {official!r}, ours {ours!r}')
    assert not wrong, '\n'.join(wrong)


def test_documented_differences_are_real_and_in_the_readme(table):
    _, rows = table
    values = dict(rows)
    fidelity = (CONFIG_DIR / 'README.md').read_text()
    for (setting, column), reason in DIFFERENCES.items():
        ours = READERS[setting](_load(COLUMNS[column]))
        assert not same(values[setting][column], ours), f'{setting} [{column}] now matches: drop it from DIFFERENCES'
        assert f'| {setting} |' in fidelity, f'configs/baron/README.md fidelity table has no row {setting!r}'


def test_readme_fidelity_table_lists_every_official_setting(table):
    _, rows = table
    fidelity = (CONFIG_DIR / 'README.md').read_text()
    missing = [setting for setting, _ in rows if f'| {setting} |' not in fidelity]
    assert not missing, f'configs/baron/README.md fidelity table lacks: {missing}'
