"""Every dataset class of ovd, registered in scope ``ovd``: detection (COCO, OV-COCO, LVIS, Objects365), grounding
(Flickr30k Entities, MDETR's preprocessed files) and the mixed-source dataset with its sampler."""
from .coco import CocoDetDataset, OVCocoDataset
from .coco_style import CocoStyleDetDataset
from .flickr30k import Flickr30kEntitiesDataset, MDETRFlickr30kDataset
from .lvis import LVISV05Dataset, LVISV1Dataset, OVLVISDataset
from .mdetr_grounding import MDETRGroundingDataset
from .modulated_lvis import ModulatedLVISDataset
from .mixed import MixedRatioSampler, MixedSourceDataset
from .objects365 import OBJECTS365_V2_MISSING_IMAGES, Objects365V1Dataset, Objects365V2Dataset

__all__ = [
           'OBJECTS365_V2_MISSING_IMAGES',
           'CocoDetDataset',
           'CocoStyleDetDataset',
           'Flickr30kEntitiesDataset',
           'LVISV05Dataset',
           'LVISV1Dataset',
           'MDETRFlickr30kDataset',
           'MDETRGroundingDataset',
           'MixedRatioSampler',
           'MixedSourceDataset',
           'ModulatedLVISDataset',
           'OVCocoDataset',
           'OVLVISDataset',
           'Objects365V1Dataset',
           'Objects365V2Dataset',
]
