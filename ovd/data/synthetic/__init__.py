"""Small synthetic datasets written in the real on-disk formats of COCO, LVIS v1, Flickr30k Entities and
Objects365, with JPEG images in which every category has its own learnable look (see ``looks.py``).

Deterministic by seed: the same arguments write byte-identical files. Used by the demo, the tests and the tiny
training configs. Documented in ``docs/synthetic_data.md``.
"""
from .coco import OV_COCO_BASE, OV_COCO_NOVEL, generate_coco
from .flickr30k import BOX_NOUNS, noun_look_index, generate_flickr30k
from .lvis import generate_lvis
from .objects365 import generate_objects365
from .common import MANIFEST_NAME
from .looks import MAX_LOOKS, Look, category_look

__all__ = ['generate_coco', 'generate_lvis', 'generate_flickr30k', 'generate_objects365', 'noun_look_index', 'BOX_NOUNS', 'category_look', 'Look', 'MAX_LOOKS', 'MANIFEST_NAME', 'OV_COCO_BASE',
           'OV_COCO_NOVEL']
