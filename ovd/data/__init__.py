"""The dataset layer: vocabularies, datasets, prompts and transforms, OV split preparation, synthetic data."""
from . import datasets  # noqa: F401  (registers the detection datasets)
from . import flickr30k, mixed, transforms  # noqa: F401  (register grounding datasets, text transforms, mixing)
from . import grounding_crop, mdetr_grounding  # noqa: F401  (MDETR: RandomCropKeepBoxes, MDETRGroundingDataset)
from . import pixel_conventions  # noqa: F401  (official resize rule, GLIP inclusive-pixel boxes)
