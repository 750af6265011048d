"""Model parts used by two or more methods: alignment losses, matchers, positive-map utilities, CLIP teacher."""
from . import region_transforms  # noqa: F401  (registers LoadRegionEmbeddings, PackRegionDetInputs)
