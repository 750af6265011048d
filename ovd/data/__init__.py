"""The dataset layer: vocabularies, datasets, prompts and transforms, OV split preparation, synthetic data."""
