"""GLIP (Li et al., CVPR 2022): detection as phrase grounding with deep vision-language fusion."""
