"""Detection (synthetic COCO) + grounding (synthetic Flickr30k) in one batch stream, through the real
datasets, the text transforms, MixedSourceDataset, MixedRatioSampler and a DataLoader."""

from collections import Counter

from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

import ovd  # noqa: F401
from ovd.data.synthetic import generate_coco, generate_flickr30k
from ovd.registry import DATA_SAMPLERS, DATASETS
from ovd.data.synthetic.tiny_text import tiny_bert_dir


def test_detection_and_grounding_batches(tmp_path):
    init_default_scope('ovd')
    generate_coco(tmp_path / 'coco', splits={'train2017': 6}, seed=0)
    generate_flickr30k(tmp_path / 'flickr', splits={'train': 3}, seed=0)
    tok = str(tiny_bert_dir())
    head = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(128, 96), keep_ratio=True),
    ]
    tail = [
        dict(type='AddPositiveMap', tokenizer=tok, max_tokens=256, normalize=True),
        dict(type='PackGroundingInputs'),
    ]
    det = dict(
        type='CocoDetDataset',
        data_root=str(tmp_path / 'coco'),
        vocabulary='coco',
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=head + [dict(type='DetectionToGroundingPrompt', num_negatives=20, tokenizer=tok)] + tail,
    )
    grd = dict(
        type='Flickr30kEntitiesDataset',
        data_root=str(tmp_path / 'flickr'),
        ann_file='train.txt',
        pipeline=head + tail,
    )
    dataset = DATASETS.build(
        dict(type='MixedSourceDataset', datasets=[det, grd], source_names=['coco', 'flickr'])
    )
    sampler = DATA_SAMPLERS.build(
        dict(type='MixedRatioSampler', ratios=[1, 1], num_samples=12),
        default_args=dict(dataset=dataset, seed=0),
    )
    loader = DataLoader(dataset, batch_size=4, sampler=sampler, collate_fn=pseudo_collate, num_workers=0)
    sources = Counter()
    for batch in loader:
        for sample in batch['data_samples']:
            meta = sample.metainfo
            sources[meta['dataset_source']] += 1
            labels = sample.gt_instances.labels
            pm = meta['positive_map']
            assert isinstance(meta['text'], str) and pm.shape == (len(meta['tokens_positive']), 256)
            assert len(labels) > 0 and int(labels.max()) < pm.shape[0]
            assert (pm[labels].sum(-1) > 0.99).all()  # every box's phrase has tokens in the map
            if meta['dataset_source'] == 'coco':
                names = meta['text_names']
                for phrase, label in enumerate(meta['phrase_label_ids']):
                    ((s, e),) = meta['tokens_positive'][phrase]
                    assert meta['text'][s:e] == names[label]
                assert meta['prompt_stats']['dropped_boxes'] == 0
            else:
                assert meta['phrase_types'] and meta['sentence_id'] in range(5)
    assert sources == {'coco': 6, 'flickr': 6}
