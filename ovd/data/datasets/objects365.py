"""Objects365 v1 and v2 datasets, labelled with the typo-fixed vocabularies.

v1 vs v2 (both 365 classes, different ids and names, so a file only works with its own vocabulary; the dataset
checks the names and stops on a mismatch):

- v1 (2019; ``objects365_{train,val}.json``, ~600k train / 30k val images): lower-case names ordered by id
  (1 person, 2 sneakers, 3 chair, 4 hat, ...); images in one folder per split, named
  ``obj365_train_<id as 12 digits>.jpg``; the ``categories`` lists of train and val come in different orders
  (we map by id, so order does not matter). Three listed train images (ids 6, 19, 23) are not in the release
  and are skipped with a warning, as mmdet's converter skips them.
- v2 (2020; ``zhiyuan_objv2_{train,val}.json``, ~1.7M train / 80k val images): capitalised names with a new id
  order (1 Person, 2 Sneakers, 3 Chair, 4 Other Shoes, ...) and several typos ("Moniter/TV", "Bakset", ...)
  fixed by ``objects365_v2_names_fix.csv``; images come in ``patchN/`` folders while ``file_name`` reads
  ``images/v1/patchN/...`` or ``images/v2/patchN/...``: we use ``patchN/<file>`` under the split's image
  folder (the layout of the official download and mmdet's rule). Three listed train images are not in the
  release and are skipped with a warning.
"""
from ovd.registry import DATASETS

from ..image_paths import OBJECTS365_V1_MISSING_IMAGES, OBJECTS365_V2_MISSING_IMAGES, objects365_v2_relpath
from .coco_style import CocoStyleDetDataset


@DATASETS.register_module()
class Objects365V1Dataset(CocoStyleDetDataset):
    """Objects365 v1 (vocabulary ``'objects365_v1'``), the train images missing from the release skipped."""
    DEFAULT_VOCABULARY = 'objects365_v1'

    def __init__(self, *args, skip_images=OBJECTS365_V1_MISSING_IMAGES, **kwargs) -> None:
        super().__init__(*args, skip_images=skip_images, **kwargs)


@DATASETS.register_module()
class Objects365V2Dataset(CocoStyleDetDataset):
    """Objects365 v2 (vocabulary ``'objects365_v2'``), ``patchN/`` paths, known missing images skipped."""
    DEFAULT_VOCABULARY = 'objects365_v2'

    def __init__(self, *args, skip_images=OBJECTS365_V2_MISSING_IMAGES, **kwargs) -> None:
        super().__init__(*args, skip_images=skip_images, **kwargs)

    def image_relpath(self, image: dict) -> str:
        return objects365_v2_relpath(image['file_name'])
