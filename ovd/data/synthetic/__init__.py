"""Small synthetic datasets written in the real on-disk formats of COCO, LVIS v1, Flickr30k Entities and
Objects365 v2, with JPEG images in which every category has its own learnable look (see ``looks.py``).

Deterministic by seed: the same arguments write byte-identical files. Used by the demo, the tests and the tiny
training configs. Documented in ``docs/synthetic_data.md``.

The one home of generated data: besides the datasets, :mod:`.eval_cases` builds LVIS/COCO-style ground truth
and results for the evaluators' exactness tests and speed benchmarks, and :mod:`.tiny_text` the tiny tokenizers
and text models (``generate_tiny_models`` writes them beside the datasets). Neither is imported here: they are
imported by name (``tiny_text`` needs torch and transformers).
"""
from .all import GENERATORS, generate_all
from .tiny_models import TINY_MODELS, generate_tiny_models
from .coco import OV_COCO_BASE, OV_COCO_NOVEL, generate_coco
from .common import MANIFEST_NAME
from .flickr30k import BOX_NOUNS, generate_flickr30k, noun_look_index
from .looks import MAX_LOOKS, Look, category_look
from .lvis import generate_lvis
from .objects365 import generate_objects365
from .ov_world import generate_ov_world, world_categories

__all__ = [
           'BOX_NOUNS',
           'GENERATORS',
           'MANIFEST_NAME',
           'MAX_LOOKS',
           'OV_COCO_BASE',
           'OV_COCO_NOVEL',
           'Look',
           'category_look',
           'generate_all',
           'generate_tiny_models',
           'TINY_MODELS',
           'generate_coco',
           'generate_flickr30k',
           'generate_lvis',
           'generate_objects365',
           'generate_ov_world',
           'world_categories',
           'noun_look_index',
]
