# Flickr30k Entities test (1000 images x 5 sentences): phrase grounding, one sample per (image, sentence); gt
# labels are phrase indices. Protocols: any-box and merged-box Recall@1/5/10 (MDETR, Kamath et al. 2021). Data
# (docs/text_and_prompts.md): data/flickr30k_entities/{Sentences/,Annotations/,flickr30k-images/,test.txt} as
# released (github.com/BryanPlummer/flickr30k_entities + the Flickr30k images). After `ovd prepare flickr30k
# --root data/flickr30k_entities`, ann_file='ovd_flickr30k/flickr30k_entities_test.json' loads the same
# samples faster.
dataset_type = 'Flickr30kEntitiesDataset'
data_root = '{{$OVD_DATA_ROOT:data}}/flickr30k_entities/'
backend_args = None

test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    # annotations loaded after resizing stay in original-image pixels, as the evaluation expects
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackGroundingInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test.txt',
        data_prefix=dict(img='flickr30k-images/'),
        merge_boxes=False,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args,
    ),
)
val_dataloader = test_dataloader

# Any-box protocol (a hit if a top-k box matches any of the phrase's boxes); for the merged-box protocol set
# protocol='merged-box' (the metric merges each phrase's boxes itself, so the dataset keeps them separate).
val_evaluator = dict(type='Flickr30kRecallMetric', protocol='any-box', topk=(1, 5, 10))
test_evaluator = val_evaluator
