"""Detection datasets (COCO, OV-COCO, LVIS, Objects365) registered in scope ``ovd``."""
from .coco import CocoDetDataset, OVCocoDataset
from .coco_style import CocoStyleDetDataset
from .lvis import LVISV05Dataset, LVISV1Dataset, OVLVISDataset
from .objects365 import OBJECTS365_V2_MISSING_IMAGES, Objects365V1Dataset, Objects365V2Dataset

__all__ = [
           'OBJECTS365_V2_MISSING_IMAGES',
           'CocoDetDataset',
           'CocoStyleDetDataset',
           'LVISV05Dataset',
           'LVISV1Dataset',
           'OVCocoDataset',
           'OVLVISDataset',
           'Objects365V1Dataset',
           'Objects365V2Dataset',
]
