"""BARON's box head: region features -> pseudo words -> frozen CLIP text encoder -> cosine logits.

Wu et al. (CVPR 2023, Sec. 3.2): the classifier of Faster R-CNN is replaced by a linear layer that maps each
region feature to ``num_words`` pseudo words in CLIP's token-embedding space (6 on COCO, 4 on LVIS). Wrapped in the
start/end token embeddings they go through the frozen CLIP text encoder; the end-token feature (the projected one,
or with ``use_attn12_output`` the residual stream after all blocks, as ovdet's OV-COCO configs) is compared by
cosine similarity with the same feature of the class prompts and a learned background embedding, times a
temperature (ovdet: 50 on COCO; 100 on LVIS with 100/0.7 at test). In training half of the words are dropped at
random (at least one kept), as in ovdet. Box regression is class-agnostic (ovdet's configs: Linear-ReLU-Linear,
``reg_predictor_cfg``).

Novel classes are never targets: their logits are removed from the training softmax (set to -inf) while the head
scores the full vocabulary (65 on OV-COCO, 1203 on OV-LVIS) at test time; ovdet gives them class weight 0, which its
loss turns into the same -inf logits.

The trunk is mmdet's ``ConvFCBBoxHead`` (R50-FPN: 4 convs + 1 fc, with frozen BN via ``norm_eval`` on OV-COCO;
R50-C4: no fc, ``with_avg_pool=True`` after the shared res5 head). :class:`BaronEnsembleBBoxHead` adds a second
(distillation) branch for the LVIS ensemble.
"""
import copy
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmdet.models.layers import multiclass_nms
from mmdet.models.roi_heads.bbox_heads import BBoxHead, ConvFCBBoxHead
from mmdet.models.utils import empty_instances
from mmdet.structures.bbox import get_box_tensor, scale_boxes
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ovd.registry import MODELS
from .ensemble import ensemble_probabilities
from .frozen_clip import FrozenCLIP, pack_pseudo_text

EmbeddingSource = Union[str, dict, Tensor, np.ndarray]
CLASS_FEATURES = ('projected', 'attn12')
LAYER_COUNTS = ('num_shared_convs', 'num_shared_fcs', 'num_cls_convs', 'num_cls_fcs', 'num_reg_convs',
                'num_reg_fcs')


def base_class_mask(base_classes: Union[None, str, Sequence[int]], num_classes: int) -> Tensor:
    """``[num_classes]`` bool, True for classes that may be training targets.

    Args:
        base_classes: None (all), a built-in vocabulary name (its ``split == 'base'`` categories, e.g. 'ov_coco'
            -> 48 of 65), or class indices.
        num_classes: the head's vocabulary size.
    """
    mask = torch.zeros(num_classes, dtype=torch.bool)
    if base_classes is None:
        return mask.fill_(True)
    if isinstance(base_classes, str):
        from ovd.data.vocab import get_vocabulary
        vocab = get_vocabulary(base_classes)
        if len(vocab) != num_classes:
            raise ValueError(f'base_classes={base_classes!r} has {len(vocab)} categories, the head num_classes='
                             f'{num_classes}')
        indices = [i for i, c in enumerate(vocab.categories) if c.split == 'base']
    else:
        indices = list(base_classes)
    if not indices or min(indices) < 0 or max(indices) >= num_classes:
        raise ValueError(f'base class indices must be a non-empty subset of [0, {num_classes})')
    mask[torch.as_tensor(indices)] = True
    return mask


class Attn12TextEncoder:
    """The text side of the frozen CLIP giving :meth:`FrozenCLIP.encode_text_endk` features of strings, with the
    interface :func:`ovd.text.class_embeddings.build_class_embeddings` expects (its own cache identity)."""

    def __init__(self, clip: FrozenCLIP) -> None:
        self.clip = clip

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> Tensor:
        tokens = self.clip.encoder.tokenize(texts).to(self.clip.model.token_embedding.weight.device)
        return self.clip.encode_text_endk(tokens)

    def identity(self) -> str:
        return f'{self.clip.encoder.identity()}:end-token-residual-all-blocks'


def load_class_embeddings(source: EmbeddingSource, clip: Optional[FrozenCLIP] = None) -> Tensor:
    """Class text embeddings ``[C, E]``.

    Args:
        source: a ``.npy``/``.pt``/``.pth`` file or an array of shape ``[C, E]``; or a dict with ``vocabulary``
            (built-in name or list of names), optional ``templates`` ('vild', 'single' or a list), ``cache`` and
            ``name_rule`` (default ``'baron'``, ovdet's class-name text, :mod:`ovd.data.name_rules`) and
            ``feature`` ('projected': CLIP's text embedding; 'attn12': the end token's residual stream after all
            blocks, what ovdet's ``tools/hand_craft_prompt.py`` writes to ``coco_clip_hand_craft_attn12.npy`` for
            ``use_attn12_output``): computed with the shared helper
            :func:`ovd.text.class_embeddings.build_class_embeddings` through the same frozen CLIP the head
            classifies with.
        clip: that CLIP (needed for the dict form).
    """
    from ovd.text.class_embeddings import build_class_embeddings, read_class_embeddings
    if isinstance(source, dict):
        if clip is None:
            raise ValueError('class embeddings from a vocabulary need the CLIP text encoder')
        args = dict(source)
        args.setdefault('name_rule', 'baron')
        vocabulary = args.pop('vocabulary')
        feature = args.pop('feature', 'projected')
        if feature not in CLASS_FEATURES:
            raise ValueError(f'class_embeddings.feature must be one of {CLASS_FEATURES}, got {feature!r}')
        encoder = clip.encoder if feature == 'projected' else Attn12TextEncoder(clip)
        return read_class_embeddings(build_class_embeddings(encoder, vocabulary, **args),
                                     f'class embeddings of {vocabulary!r}')
    return read_class_embeddings(source)


@MODELS.register_module()
class BaronBBoxHead(ConvFCBBoxHead):
    """Box head with the pseudo-word classifier.

    Args:
        num_words: pseudo words per region (6 COCO, 4 LVIS).
        word_dim: width of CLIP's token embeddings (512 for ViT-B/32); checked against the CLIP when bound.
        class_embeddings: see :func:`load_class_embeddings`; resolved when the RoI head binds the CLIP.
        base_classes: see :func:`base_class_mask`.
        cls_temp: logit scale in training; ``test_cls_temp`` at test (default: the same).
        words_drop_ratio: probability of dropping a pseudo word in training.
        use_attn12_output: classify the end token's residual stream after all text blocks, before ``ln_final`` and
            the projection (ovdet's OV-COCO configs; the class embeddings must be ``feature='attn12'``).
        norm_eval: keep the head's BatchNorm layers in eval mode in training (ovdet's OV-COCO FPN head: frozen BN).
        **kwargs: ``ConvFCBBoxHead`` arguments (``num_shared_fcs``, ``fc_out_channels``, ``with_avg_pool``,
            ``in_channels``, ``roi_feat_size``, ``num_classes``, ``bbox_coder``, losses...).
    """

    def __init__(self, num_words: int, word_dim: int, class_embeddings: EmbeddingSource,
                 base_classes: Union[None, str, Sequence[int]] = None, cls_temp: float = 50.0,
                 test_cls_temp: Optional[float] = None, words_drop_ratio: float = 0.5,
                 use_attn12_output: bool = False, norm_eval: bool = False,
                 reg_class_agnostic: bool = True, **kwargs) -> None:
        layer_counts = [kwargs.get(k, 0) for k in LAYER_COUNTS]
        if sum(layer_counts) == 0:
            self._init_without_trunk(reg_class_agnostic=reg_class_agnostic, **kwargs)
        else:
            super().__init__(reg_class_agnostic=reg_class_agnostic, **kwargs)
        if not 0.0 <= words_drop_ratio < 1.0:
            raise ValueError(f'words_drop_ratio must lie in [0, 1), got {words_drop_ratio}')
        self.num_words, self.word_dim = int(num_words), int(word_dim)
        self.cls_temp = float(cls_temp)
        self.test_cls_temp = float(test_cls_temp if test_cls_temp is not None else cls_temp)
        self.words_drop_ratio = float(words_drop_ratio)
        self.use_attn12_output, self.norm_eval = bool(use_attn12_output), bool(norm_eval)
        if isinstance(class_embeddings, dict) \
                and (class_embeddings.get('feature', 'projected') == 'attn12') != self.use_attn12_output:
            raise ValueError(f"class_embeddings.feature={class_embeddings.get('feature', 'projected')!r} does not "
                             f'match use_attn12_output={self.use_attn12_output}: classes and regions must be '
                             f"encoded alike ('attn12' with use_attn12_output=True)")
        self.class_embedding_source = class_embeddings
        self.fc_cls = nn.Linear(self.cls_last_dim, self.num_words * self.word_dim)
        self.register_buffer('base_mask', base_class_mask(base_classes, self.num_classes), persistent=False)
        # filled by bind_clip; persistent so a checkpoint evaluates with the embeddings it was trained with
        self.register_buffer('class_embeddings', torch.zeros(0))
        self.bg_embedding: Optional[nn.Parameter] = None
        self.__dict__['clip'] = None  # not a submodule: the RoI head owns the frozen CLIP

    def train(self, mode: bool = True) -> 'BaronBBoxHead':
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def _init_without_trunk(self, **kwargs) -> None:
        """R50-C4: the res5 RoI head already is the trunk and the classifier reads its pooled features directly, a
        layout ``ConvFCBBoxHead`` refuses (it asserts at least one layer), so build mmdet's ``BBoxHead`` and give it
        the empty layer lists this class's forward expects."""
        for key in LAYER_COUNTS + ('conv_out_channels', 'fc_out_channels', 'conv_cfg', 'norm_cfg'):
            kwargs.pop(key, None)
        BBoxHead.__init__(self, **kwargs)
        for name in ('shared_convs', 'shared_fcs', 'cls_convs', 'cls_fcs', 'reg_convs', 'reg_fcs'):
            setattr(self, name, nn.ModuleList())
        for key in LAYER_COUNTS:
            setattr(self, key, 0)
        last_dim = self.in_channels if self.with_avg_pool else self.in_channels * self.roi_feat_area
        self.cls_last_dim = self.reg_last_dim = last_dim
        self.relu = nn.ReLU(inplace=True)

    def bind_clip(self, clip: FrozenCLIP) -> None:
        """Attach the frozen CLIP and compute the class embeddings (called by the RoI head)."""
        if clip.word_dim != self.word_dim:
            raise ValueError(f'word_dim={self.word_dim} but the CLIP token embeddings are {clip.word_dim}-d')
        self.__dict__['clip'] = clip
        emb = load_class_embeddings(self.class_embedding_source, clip)
        dim = self.feature_dim
        if emb.shape != (self.num_classes, dim):
            raise ValueError(f'class embeddings {tuple(emb.shape)} do not match num_classes={self.num_classes} and '
                             f'the classifier feature dim {dim} (use_attn12_output={self.use_attn12_output})')
        self.class_embeddings = F.normalize(emb, dim=1)
        # ovdet: nn.Linear(1, dim) with Xavier-uniform weight and zero bias, applied to 1: the same initial vector law
        bound = (6.0 / (1 + dim)) ** 0.5
        self.bg_embedding = nn.Parameter(torch.empty(dim).uniform_(-bound, bound))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'class_embeddings'
        if key in state_dict and state_dict[key].shape != self.class_embeddings.shape:
            self.class_embeddings = self.class_embeddings.new_empty(state_dict[key].shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --- trunk -------------------------------------------------------------------------------------------
    def _shared(self, x: Tensor, convs: nn.ModuleList, fcs: nn.ModuleList) -> Tensor:
        for conv in convs:
            x = conv(x)
        if len(fcs) > 0:
            if self.with_avg_pool:
                x = self.avg_pool(x)
            x = x.flatten(1)
            for fc in fcs:
                x = self.relu(fc(x))
        return x

    def _branch(self, x: Tensor, convs: nn.ModuleList, fcs: nn.ModuleList) -> Tensor:
        for conv in convs:
            x = conv(x)
        if x.dim() > 2:
            if self.with_avg_pool:
                x = self.avg_pool(x)
            x = x.flatten(1)
        for fc in fcs:
            x = self.relu(fc(x))
        return x

    def pseudo_words(self, x: Tensor, branch: str = 'det') -> Tensor:
        """Pseudo words of RoI features.

        Args:
            x: RoI features ``[N, C, h, w]``.
            branch: 'det' or 'kd' (the same layers here; separate ones in the ensemble head).

        Returns:
            ``[N, num_words, word_dim]``.
        """
        feats = self._branch(self._shared(x, self.shared_convs, self.shared_fcs), self.cls_convs, self.cls_fcs)
        return self.fc_cls(feats).view(-1, self.num_words, self.word_dim)

    # --- classifier ----------------------------------------------------------------------------------------
    def word_keep_mask(self, num: int, device: torch.device) -> Tensor:
        """``[num, num_words]`` bool: the words kept (all at test; dropout with one word kept at least in training)."""
        keep = torch.ones(num, self.num_words, dtype=torch.bool, device=device)
        if self.training and self.words_drop_ratio > 0:
            keep = torch.rand(num, self.num_words, device=device) >= self.words_drop_ratio
            keep[:, 0] |= ~keep.any(dim=1)
        return keep

    def encode_words(self, pseudo_words: Tensor, keep: Optional[Tensor] = None) -> Tensor:
        """Text features of regions' pseudo words through the frozen CLIP: ``[N, W, D]`` -> ``[N, E]`` (unit).

        ``keep [N, W]`` bool overrides the word-dropout draw. With ``use_attn12_output`` the feature is the end
        token's residual stream after all blocks (no ``ln_final``, no projection: ``[N, width]``), as ovdet's COCO
        configs classify; the class embeddings must then be the same feature of the class prompts.
        """
        clip = self.__dict__['clip']
        if clip is None:
            raise RuntimeError('BaronBBoxHead has no CLIP: the RoI head must call bind_clip()')
        num = pseudo_words.shape[0]
        if num == 0:
            return pseudo_words.new_zeros(0, self.feature_dim) + pseudo_words.sum() * 0
        keep = self.word_keep_mask(num, pseudo_words.device) if keep is None else keep
        word_seq = keep.nonzero()[:, 0]
        sot, eot = clip.special_tokens()
        text, end_ids, _ = pack_pseudo_text(pseudo_words[keep], word_seq, num, sot, eot)
        if self.use_attn12_output:
            return clip.encode_pseudo_text_endk(text, end_ids)
        return clip.encode_pseudo_text(text, end_ids, return_tokens=False)[0]

    @property
    def feature_dim(self) -> int:
        """Width of the classifier's text features: CLIP's joint embedding, or the text width (attn12)."""
        clip = self.__dict__['clip']
        return clip.word_dim if self.use_attn12_output else clip.embed_dim

    def logits(self, text_features: Tensor) -> Tensor:
        """``[N, E]`` unit text features -> ``[N, C + 1]`` scaled cosine logits (background last)."""
        keys = torch.cat([self.class_embeddings, F.normalize(self.bg_embedding, dim=0)[None]])
        temp = self.cls_temp if self.training else self.test_cls_temp
        return temp * text_features @ keys.t()

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """RoI features ``[N, C, h, w]`` -> ``cls_score [N, C + 1]``, ``bbox_pred [N, 4]``."""
        shared = self._shared(x, self.shared_convs, self.shared_fcs)
        x_cls = self._branch(shared, self.cls_convs, self.cls_fcs)
        x_reg = self._branch(shared, self.reg_convs, self.reg_fcs)
        words = self.fc_cls(x_cls).view(-1, self.num_words, self.word_dim)
        cls_score = self.logits(self.encode_words(words))
        return cls_score, self.fc_reg(x_reg)

    def class_probabilities(self, cls_score: Tensor) -> Tensor:
        """Test-time scores ``[N, C + 1]`` from what :meth:`forward` returned."""
        return F.softmax(cls_score, dim=-1)

    def loss(self, cls_score: Tensor, bbox_pred: Tensor, *args, **kwargs) -> Dict[str, Any]:
        """mmdet's box-head loss with novel classes removed from the softmax."""
        novel = torch.cat([~self.base_mask, self.base_mask.new_zeros(1)]).to(cls_score.device)
        if cls_score is not None and novel.any():
            cls_score = cls_score.masked_fill(novel[None], float('-inf'))
        return super().loss(cls_score, bbox_pred, *args, **kwargs)

    def _predict_by_feat_single(self, roi: Tensor, cls_score: Tensor, bbox_pred: Tensor, img_meta: dict,
                                rescale: bool = False,
                                rcnn_test_cfg: Optional[ConfigDict] = None) -> InstanceData:
        """mmdet's post-processing with the scores from :meth:`class_probabilities` (the ensemble's are not a
        softmax)."""
        results = InstanceData()
        if roi.shape[0] == 0:
            return empty_instances([img_meta], roi.device, task_type='bbox', instance_results=[results],
                                   box_type=self.predict_box_type, use_box_type=False,
                                   num_classes=self.num_classes, score_per_cls=rcnn_test_cfg is None)[0]
        scores = self.class_probabilities(cls_score)
        img_shape = img_meta['img_shape']
        num_rois = roi.size(0)
        bboxes = self.bbox_coder.decode(roi[..., 1:], bbox_pred.view(-1, self.bbox_coder.encode_size),
                                        max_shape=img_shape)  # class-agnostic: one box per RoI
        if rescale and bboxes.size(0) > 0:
            bboxes = scale_boxes(bboxes, [1 / s for s in img_meta['scale_factor']])
        bboxes = get_box_tensor(bboxes).view(num_rois, -1)
        if rcnn_test_cfg is None:
            results.bboxes, results.scores = bboxes, scores
            return results
        det_bboxes, det_labels = multiclass_nms(bboxes, scores, rcnn_test_cfg.score_thr, rcnn_test_cfg.nms,
                                                rcnn_test_cfg.max_per_img, box_dim=bboxes.size(-1))
        results.bboxes, results.scores, results.labels = det_bboxes[:, :-1], det_bboxes[:, -1], det_labels
        return results


@MODELS.register_module()
class BaronEnsembleBBoxHead(BaronBBoxHead):
    """The LVIS ensemble: a distillation branch (own trunk and word projection, trained by the bag/region losses)
    next to the detection branch; at test their probabilities are combined (:mod:`ovd.models.baron.ensemble`).

    Args:
        ensemble_weight: ``lambda`` (2/3 in ovdet and ViLD).
        **kwargs: :class:`BaronBBoxHead` arguments.
    """

    def __init__(self, ensemble_weight: float = 2 / 3, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0.5 < ensemble_weight <= 1.0:
            raise ValueError(f'ensemble_weight must lie in (0.5, 1], got {ensemble_weight}')
        self.ensemble_weight = float(ensemble_weight)
        self.kd_shared_convs = copy.deepcopy(self.shared_convs)
        self.kd_shared_fcs = copy.deepcopy(self.shared_fcs)
        self.kd_cls_convs = copy.deepcopy(self.cls_convs)
        self.kd_cls_fcs = copy.deepcopy(self.cls_fcs)
        self.kd_fc_cls = copy.deepcopy(self.fc_cls)

    def pseudo_words(self, x: Tensor, branch: str = 'det') -> Tensor:
        if branch == 'det':
            return super().pseudo_words(x)
        feats = self._branch(self._shared(x, self.kd_shared_convs, self.kd_shared_fcs), self.kd_cls_convs,
                             self.kd_cls_fcs)
        return self.kd_fc_cls(feats).view(-1, self.num_words, self.word_dim)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """In training the detection branch's logits; at test the ensemble's probabilities ``[N, C + 1]``."""
        cls_score, bbox_pred = super().forward(x)
        if self.training:
            return cls_score, bbox_pred
        kd_probs = F.softmax(self.logits(self.encode_words(self.pseudo_words(x, 'kd'))), dim=-1)
        probs = ensemble_probabilities(F.softmax(cls_score, dim=-1), kd_probs, self.base_mask, self.ensemble_weight)
        return probs, bbox_pred

    def class_probabilities(self, cls_score: Tensor) -> Tensor:
        return cls_score if not self.training else F.softmax(cls_score, dim=-1)
