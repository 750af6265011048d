"""The dataset layer: vocabularies, datasets, prompts and transforms, OV split preparation, synthetic data.

Importing the package registers nothing: the modules that register datasets, samplers and transforms are
listed in :mod:`ovd.registry` (``DATA_MODULES``, ``TRANSFORM_MODULES``) and imported on a registry's first
lookup, so the light modules here (``vocab``, ``prepare``, ``synthetic``) load without torch or mmdet.
"""
