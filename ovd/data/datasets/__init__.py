"""Detection datasets (COCO, OV-COCO, LVIS, Objects365) registered in scope ``ovd``."""
from .coco import CocoDetDataset, OVCocoDataset
from .coco_style import CocoStyleDetDataset
from .lvis import LVISV05Dataset, LVISV1Dataset, OVLVISDataset
from .objects365 import OBJECTS365_V2_MISSING_IMAGES, Objects365V1Dataset, Objects365V2Dataset

__all__ = ['CocoStyleDetDataset', 'CocoDetDataset', 'OVCocoDataset', 'LVISV1Dataset', 'OVLVISDataset',
           'LVISV05Dataset', 'Objects365V1Dataset', 'Objects365V2Dataset', 'OBJECTS365_V2_MISSING_IMAGES']
