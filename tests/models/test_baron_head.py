"""BARON's frozen CLIP, pseudo-word packing, box head and distillation losses with the tiny open_clip model."""
import pytest
import torch
import torch.nn.functional as F

from ovd.models.baron.bbox_head import BaronBBoxHead, BaronEnsembleBBoxHead, base_class_mask
from ovd.models.baron.distill import BagDistiller
from ovd.models.baron.frozen_clip import FrozenCLIP, pack_pseudo_text
from ovd.models.baron.neighborhood import sample_bags
from ovd.data.synthetic.tiny_text import TINY_CLIP_EMBED_DIM, tiny_clip_config

DIM = TINY_CLIP_EMBED_DIM  # tiny CLIP: token width = embedding dim = 32


@pytest.fixture(scope='module')
def clip() -> FrozenCLIP:
    torch.manual_seed(0)
    return FrozenCLIP(dict(model_cfg=tiny_clip_config(), pretrained=None))


def _head(clip, cls=BaronBBoxHead, **kwargs) -> BaronBBoxHead:
    torch.manual_seed(0)
    names = ['cat', 'dog', 'car']
    head = cls(num_words=6, word_dim=DIM, class_embeddings=dict(vocabulary=names, templates='single', cache=False),
               base_classes=[0, 2], num_classes=3, in_channels=8, roi_feat_size=7, num_shared_fcs=2,
               fc_out_channels=16, **kwargs)
    head.bind_clip(clip)
    return head


def test_clip_is_frozen_and_stays_in_eval(clip):
    assert all(not p.requires_grad for p in clip.parameters())
    clip.train()
    assert not clip.training and not clip.model.training
    before = {k: v.clone() for k, v in clip.state_dict().items()}
    clip.init_weights()  # mmengine's initialisation must not touch the loaded weights
    assert all(torch.equal(before[k], v) for k, v in clip.state_dict().items())


def test_pseudo_text_equals_encode_text_on_real_tokens(clip):
    tokens = clip.encoder.tokenize(['a photo of a cat', 'dog'])
    end_ids = tokens.argmax(dim=-1)
    length = int(end_ids.max()) + 1
    text, _ = clip.encode_pseudo_text(clip.model.token_embedding(tokens[:, :length]), end_ids)
    ref = clip.encoder.encode_text(tokens, normalize=True)
    assert torch.allclose(text, ref, atol=1e-5)


def test_dense_image_pooled_equals_encode_image(clip):
    images = torch.randn(2, 3, 32, 32)
    pooled, patches = clip.encode_image_dense(images)
    assert patches.shape == (2, DIM, 4, 4)  # 32 px / 8 px patches
    assert torch.allclose(pooled, clip.encoder.encode_image(images, normalize=True), atol=1e-5)


def test_frozen_text_encoder_gets_gradients_only_through_inputs(clip):
    words = torch.randn(3, 6, DIM, requires_grad=True)
    sot, eot = clip.special_tokens()
    keep = torch.ones(3, 6, dtype=torch.bool)
    text, end_ids, _ = pack_pseudo_text(words[keep], keep.nonzero()[:, 0], 3, sot, eot)
    features, _ = clip.encode_pseudo_text(text, end_ids)
    features.sum().backward()
    assert words.grad is not None and words.grad.abs().sum() > 0
    assert all(p.grad is None for p in clip.parameters())


def test_pack_pseudo_text_hand_worked():
    words = torch.arange(3.0)[:, None].repeat(1, 2) + 10  # rows 10, 11, 12
    sot, eot = torch.full((2,), -1.0), torch.full((2,), -2.0)
    text, end_ids, pos = pack_pseudo_text(words, torch.tensor([0, 0, 1]), 2, sot, eot)
    assert text[..., 0].tolist() == [[-1, 10, 11, -2], [-1, 12, -2, 0]]
    assert end_ids.tolist() == [3, 2] and pos.tolist() == [1, 2, 1]


def test_pseudo_words_and_logits_shapes(clip):
    head = _head(clip).eval()
    feats = torch.randn(5, 8, 7, 7)
    assert head.pseudo_words(feats).shape == (5, 6, DIM)
    cls_score, bbox_pred = head(feats)
    assert cls_score.shape == (5, 4) and bbox_pred.shape == (5, 4)  # 3 classes + background; class-agnostic box
    assert cls_score.abs().max() <= head.test_cls_temp + 1e-4  # scaled cosines
    assert head(torch.randn(0, 8, 7, 7))[0].shape == (0, 4)


def test_word_dropout_keeps_at_least_one_word(clip):
    head = _head(clip, words_drop_ratio=0.9).train()
    keep = head.word_keep_mask(2000, torch.device('cpu'))
    assert keep.any(dim=1).all()
    assert 0.05 < keep.float().mean() < 0.2
    assert head.eval().word_keep_mask(4, torch.device('cpu')).all()


def test_novel_classes_never_training_targets(clip):
    head = _head(clip).train()
    assert base_class_mask([0, 2], 3).tolist() == [True, False, True]
    rois = torch.zeros(2, 5)
    labels = torch.tensor([0, 3])  # class 0 and background
    args = (rois, labels, torch.ones(2), torch.zeros(2, 4), torch.zeros(2, 4))
    logits = torch.tensor([[2.0, 0.0, 1.0, 0.5], [0.0, 0.0, 0.0, 3.0]])
    raised = logits.clone()
    raised[:, 1] = 50.0  # the novel class: no effect on the loss
    loss = head.loss(logits, torch.zeros(2, 4), *args)['loss_cls']
    assert loss == pytest.approx(head.loss(raised, torch.zeros(2, 4), *args)['loss_cls'])
    expected = F.cross_entropy(logits[:, [0, 2, 3]], torch.tensor([0, 2]))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_ensemble_head_uses_separate_branch(clip):
    head = _head(clip, cls=BaronEnsembleBBoxHead).eval()
    feats = torch.randn(4, 8, 7, 7)
    det_before = head.pseudo_words(feats, 'det')
    with torch.no_grad():  # the distillation branch starts as a copy but owns its parameters
        head.kd_fc_cls.weight.add_(1.0)
    assert torch.equal(head.pseudo_words(feats, 'det'), det_before)
    assert not torch.allclose(head.pseudo_words(feats, 'kd'), det_before)
    probs, _ = head(feats)
    assert probs.shape == (4, 4) and (probs >= 0).all() and (probs <= 1).all()
    head.train()
    logits, _ = head(feats)
    assert head.class_probabilities(logits).sum(dim=1).allclose(torch.ones(4))


def test_distiller_losses_gradients_and_queues(clip):
    torch.manual_seed(0)
    boxes = torch.tensor([[40.0, 40.0, 80.0, 90.0], [10.0, 100.0, 60.0, 140.0]])
    bags = sample_bags(boxes, torch.tensor([[160.0, 160.0]]).repeat(2, 1), alpha=0.0, base_probability=0.5)
    distiller = BagDistiller(num_words=6, word_dim=DIM, embed_dim=DIM, queue_length=64)
    words = torch.randn(bags.region_seq.shape[0], 6, DIM, requires_grad=True)
    images = torch.rand(1, 3, 160, 160) * 255
    pooled, patches = distiller.teacher(clip, images, bags.spanned, torch.zeros(len(bags.bag_cells), dtype=torch.long))
    assert pooled.shape == (len(bags.bag_cells), DIM) and patches.shape[1:] == (DIM, 4, 4)
    ids = torch.full((len(bags.bag_cells),), 7)
    losses = distiller.loss(clip, words, bags, ids, pooled, patches)
    assert set(losses) == {'loss_bag', 'loss_single'}
    total = losses['loss_bag'] + losses['loss_single']
    assert torch.isfinite(total)
    total.backward()
    assert words.grad.abs().sum() > 0
    assert distiller.positional.mlp[0].weight.grad is not None
    assert all(p.grad is None for p in clip.parameters())
    assert len(distiller.bag_text_queue) == bags.seq_bag.shape[0]
    assert len(distiller.region_image_queue) == bags.region_seq.shape[0]
    assert (distiller.bag_image_queue.get()[1] == 7).all()


def test_teacher_region_pooling_hand_worked():
    # the region-level teacher: 1x1 RoI pooling of the patch map over the normed box times the grid
    from torchvision.ops import roi_align
    patches = torch.arange(16.0).view(1, 1, 4, 4)  # value = 4 * row + col
    left_half = torch.tensor([[0.0, 0.0, 0.0, 2.0, 4.0]])  # normed [0, 0, 0.5, 1] * 4
    pooled = roi_align(patches, left_half, (1, 1), 1.0, 2, True)
    assert pooled.item() == pytest.approx(torch.tensor([[0, 1], [4, 5], [8, 9], [12, 13]]).float().mean().item())
