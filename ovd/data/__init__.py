"""The dataset layer: vocabularies, datasets, prompts and transforms, OV split preparation, synthetic data."""
from . import datasets  # noqa: F401  (registers the detection datasets)
from . import flickr30k  # noqa: F401  (registers the Flickr30k Entities datasets)
from . import transforms  # noqa: F401  (registers the prompt/positive-map transforms)
from . import mixed  # noqa: F401  (registers MixedSourceDataset and MixedRatioSampler)
