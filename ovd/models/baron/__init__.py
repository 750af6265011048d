"""BARON (Wu et al., CVPR 2023): aligning bags of regions with a frozen CLIP text encoder."""
