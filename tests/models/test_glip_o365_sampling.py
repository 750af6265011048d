"""GLIP's Objects365 pre-training samples class-aware (as GLIP's cas2000 list does) with mmdet's ClassAwareSampler."""
import json
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import init_default_scope

from ovd.data.vocab import get_vocabulary
from ovd.registry import DATA_SAMPLERS, DATASETS

GLIP = Path(__file__).resolve().parents[2] / 'configs' / 'glip'


def test_o365_only_configs_sample_class_aware_and_mixtures_stay_buildable():
    for name in ('glip-t-a_swin-t_fpn_dyhead_pretrain_o365.py', 'glip-t-b_swin-t_fpn_dyhead_pretrain_o365.py'):
        cfg = Config.fromfile(str(GLIP / name))
        assert cfg.train_dataloader.sampler == dict(type='ClassAwareSampler', num_sample_class=1)
        assert cfg.train_dataloader.dataset.type == 'Objects365V1Dataset'
    # ClassAwareSampler needs one dataset's classes: the ConcatDataset mixtures keep index sampling (README)
    for name in ('glip-t-c_swin-t_fpn_dyhead_pretrain_o365-goldg.py',
                 'glip-t_swin-t_fpn_dyhead_pretrain_o365-goldg-cap4m.py'):
        assert Config.fromfile(str(GLIP / name)).train_dataloader.sampler.type == 'DefaultSampler'


def test_class_aware_sampler_draws_a_rare_class_image_as_often_as_the_common_class(tmp_path):
    # ten 'person' images and one 'hat' image: uniform sampling draws the hat image 1/11 of the time,
    # class-aware sampling (a class uniformly, then one of its images) half of the time
    vocab = get_vocabulary('objects365_v1')
    person, hat = vocab.index_of_id(1), vocab.index_of_id(4)
    images = [dict(id=i, file_name=f'obj365_train_{i:012d}.jpg', height=100, width=100) for i in range(101, 112)]
    anns = [dict(id=i, image_id=i, category_id=1 if i < 111 else 4, bbox=[1, 1, 20, 20], area=400, iscrowd=0)
            for i in range(101, 112)]
    ann_file = tmp_path / 'objects365_train.json'
    ann_file.write_text(json.dumps(dict(images=images, annotations=anns,
                                        categories=[dict(id=c.id, name=c.source_name) for c in vocab])))
    init_default_scope('ovd')
    dataset = DATASETS.build(dict(type='Objects365V1Dataset', ann_file=str(ann_file), pipeline=[]))
    cfg = Config.fromfile(str(GLIP / 'glip-t-a_swin-t_fpn_dyhead_pretrain_o365.py'))
    sampler = DATA_SAMPLERS.build(dict(cfg.train_dataloader.sampler, dataset=dataset, seed=0))
    draws = []
    for epoch in range(200):
        sampler.set_epoch(epoch)
        draws += list(sampler)
    assert len(sampler) == len(dataset) == 11
    hat_image = next(i for i in range(len(dataset)) if dataset.get_cat_ids(i) == [hat])
    assert dataset.get_cat_ids(0) == [person]
    share = draws.count(hat_image) / len(draws)
    assert 0.45 < share < 0.55, share
