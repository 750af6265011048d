# Data settings shared by MDETR's grounding configs (official datasets/coco.py make_coco_transforms with
# cautious=True, which the Flickr30k and mixed datasets use; Kamath et al. 2021): training images resized to a
# shorter side in 480..800 (step 32, longer side <= 1333), or resized to 400/500/600, cropped to 384..600 and
# resized again; no horizontal flip (cautious mode turns it off, phrases like "the left man" would lie);
# testing at shorter side 800 (longer side <= 1333). The crop is redrawn until no box is lost (cautious crop).
backend_args = None
data = '{{$OVD_DATA_ROOT:data}}/'  # the data root (OVD_DATA_ROOT overrides data/); paths below are relative to it
train_scales = [(1333, s) for s in range(480, 801, 32)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoice', transforms=[
        [dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True)],
        [dict(type='RandomChoiceResize', scales=[(1333, 400), (1333, 500), (1333, 600)], keep_ratio=True),
         dict(type='RandomCropKeepBoxes', crop_type='absolute_range', crop_size=(384, 600), max_tries=100,
              allow_negative_crop=False),
         dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True)]]),
    dict(type='PackGroundingInputs'),
]
# Testing as the official make_coco_transforms('val') on PIL images (Image.open(...).convert('RGB'): no EXIF
# rotation, hence color_ignore_orientation): shorter side 800, longer <= 1333, the longer
# side truncated (datasets/transforms.py resize), PIL bilinear. Ground truth loaded after the resize: boxes stay in
# original-image pixels, as the metrics expect.
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='color_ignore_orientation',
         backend_args=backend_args),
    dict(type='TruncatingResize', sizes=800, max_size=1333, backend='pillow'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackGroundingInputs'),
]
