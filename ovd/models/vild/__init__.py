"""ViLD (Gu et al., ICLR 2022): vision and language knowledge distillation from CLIP."""
