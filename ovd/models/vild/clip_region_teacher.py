"""CLIP as a region teacher: embed image regions by cropping them at several scales and running CLIP's image
encoder on all crops in large batches.

ViLD (Gu et al., ICLR 2022, Sec. 3.3) embeds each proposal by cropping it at 1x and 1.5x its size, resizing to the
encoder's input (224x224 for ViT-B/32), encoding, and summing the two L2-normalised embeddings before normalising
again. Cropping and resizing is one ``roi_align`` call per image and scale (bilinear, with adaptive sampling so a
large box is averaged rather than aliased when shrunk), so all crops of an image go to the encoder as batches of
``chunk_size``; cropping boxes one by one with PIL and encoding them singly is the peer the perf benchmark
(``benchmarks/perf/vild_region_cache.py``) compares against.

The encoder is the shared open_clip wrapper :class:`ovd.text.clip.OpenCLIPEncoder`; this module only needs its
``encode_image`` and the input geometry (size, mean, std).
"""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import roi_align

# CLIP's own normalisation (Radford et al., 2021), used when the encoder does not carry a preprocess config
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def scale_boxes_about_center(boxes: Tensor, scale: float, height: int, width: int) -> Tensor:
    """Grow (or shrink) boxes about their centres and clip them to the image.

    Args:
        boxes: ``[M, 4]`` xyxy in pixels.
        scale: side-length factor (1.5 for ViLD's larger crop).
        height, width: image size for clipping.

    Returns:
        ``[M, 4]`` xyxy.
    """
    center = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (scale / 2)
    out = torch.cat([center - half, center + half], dim=1)
    out[:, 0::2] = out[:, 0::2].clamp(0, width)
    out[:, 1::2] = out[:, 1::2].clamp(0, height)
    return out


def _encoder_geometry(encoder: nn.Module) -> Tuple[Tuple[int, int], Tuple[float, ...], Tuple[float, ...]]:
    """Input size ``(h, w)`` and normalisation of an open_clip image encoder (wrapper or raw model)."""
    model = getattr(encoder, 'model', encoder)
    visual = getattr(model, 'visual', None)
    size = getattr(encoder, 'image_size', None) or getattr(visual, 'image_size', None)
    if size is None:
        raise ValueError(f'{type(encoder).__name__}: cannot tell the image encoder input size')
    size = (size, size) if isinstance(size, int) else tuple(size)
    cfg = getattr(visual, 'preprocess_cfg', None) or {}
    mean = tuple(getattr(encoder, 'image_mean', None) or cfg.get('mean') or CLIP_MEAN)
    std = tuple(getattr(encoder, 'image_std', None) or cfg.get('std') or CLIP_STD)
    return size, mean, std


def build_clip_image_encoder(clip: Union[dict, nn.Module]) -> nn.Module:
    """The shared open_clip wrapper from its config dict (model name + pretrained tag / local file / model_cfg)."""
    if isinstance(clip, nn.Module):
        return clip
    from ovd.text.clip import OpenCLIPEncoder
    return OpenCLIPEncoder(**clip)


class CLIPRegionTeacher(nn.Module):
    """Multi-scale crop embeddings of regions from a frozen CLIP image encoder.

    Args:
        clip: the shared open_clip wrapper, or its config dict.
        crop_scales: crop scale factors whose normalised embeddings are summed (ViLD: 1.0 and 1.5).
        chunk_size: crops per encoder call (memory: ``chunk_size x 3 x 224 x 224`` floats).
    """

    def __init__(self, clip: Union[dict, nn.Module], crop_scales: Sequence[float] = (1.0, 1.5),
                 chunk_size: int = 256):
        super().__init__()
        if not crop_scales or any(s <= 0 for s in crop_scales):
            raise ValueError(f'crop_scales must be positive, got {crop_scales}')
        self.encoder = build_clip_image_encoder(clip).eval()
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.crop_scales = tuple(float(s) for s in crop_scales)
        self.chunk_size = int(chunk_size)
        self.input_size, mean, std = _encoder_geometry(self.encoder)
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1) * 255, persistent=False)

    def train(self, mode: bool = True) -> 'CLIPRegionTeacher':
        return super().train(False)  # the teacher is frozen: never dropout / BN updates

    def crops(self, image: Tensor, boxes: Tensor, scale: float) -> Tensor:
        """Normalised encoder inputs of the regions of one image.

        Args:
            image: ``[3, H, W]`` RGB, 0-255 (any float/uint8 dtype).
            boxes: ``[M, 4]`` xyxy pixels.
            scale: crop scale factor.

        Returns:
            ``[M, 3, h, w]`` crops resized to the encoder input and CLIP-normalised.
        """
        height, width = image.shape[-2:]
        scaled = scale_boxes_about_center(boxes.float(), scale, height, width)
        rois = torch.cat([scaled.new_zeros(len(scaled), 1), scaled], dim=1)
        crops = roi_align(image[None].float(), rois, output_size=self.input_size, spatial_scale=1.0,
                          sampling_ratio=0, aligned=True)
        return (crops - self.mean) / self.std

    @torch.no_grad()
    def forward(self, images: Union[Tensor, List[Tensor]], boxes: List[Tensor]) -> List[Tensor]:
        """Teacher embeddings of the regions of a batch of images.

        Args:
            images: ``[B, 3, H, W]`` or a list of ``[3, H_i, W_i]``, RGB 0-255.
            boxes: per image ``[M_i, 4]`` xyxy pixels in that image's frame.

        Returns:
            Per image ``[M_i, D]`` float32, L2-normalised: the normalised sum of the per-scale normalised embeddings.
        """
        if len(images) != len(boxes):
            raise ValueError(f'{len(images)} images but {len(boxes)} box lists')
        out = []
        for image, img_boxes in zip(images, boxes):
            total = None
            for scale in self.crop_scales:
                chunks = [self._encode(self.crops(image, img_boxes[i:i + self.chunk_size], scale))
                          for i in range(0, len(img_boxes), self.chunk_size)]
                emb = torch.cat(chunks) if chunks else img_boxes.new_zeros(0, self.embed_dim)
                total = emb if total is None else total + emb
            out.append(F.normalize(total.float(), dim=-1))
        return out

    def _encode(self, crops: Tensor) -> Tensor:
        return F.normalize(self.encoder.encode_image(crops).float(), dim=-1)

    @property
    def embed_dim(self) -> int:
        dim = getattr(self.encoder, 'embed_dim', None)
        if dim is None:
            with torch.no_grad():
                dim = self._encode(self.mean.new_zeros(1, 3, *self.input_size)).shape[1]
            self.encoder.embed_dim = dim
        return int(dim)
