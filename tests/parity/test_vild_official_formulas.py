"""ViLD's official formulas, restated from the released code and worked by hand, against ovd's functions.

The official code (tensorflow/tpu ``models/official/detection/projects/vild`` @7dc921f; file:line in
``../shared/fixtures/parity/vild/README.md`` and ``configs/vild/README.md``) lays out logits as ``[background,
classes]`` times 100, averages the L1 distillation over valid padded regions and dimensions and multiplies by the
dimension 512, and ensembles as a cube root of a three-factor product. ovd puts background last, has no padding and
writes the ensemble as powers; each test restates the official form literally and checks ovd's output against
numbers computed by hand in the comments.
"""
import math

import pytest
import torch

from ovd.models.vild import ViLDTextClassifier, distillation_l1_loss, ensemble_scores, valid_regions
from ovd.text.class_embeddings import encode_class_prompts
from ovd.text.templates import VILD_TEMPLATES, fill_templates

TEMPERATURE = 100.0  # official vild_resnet.yaml frcnn_head.temperature (multiplies the cosines)
CLIP_DIM = 512  # official visual_feature_dim


def _classifier(class_texts, background):
    """ovd's classifier with an identity projection, so the region feature is the region embedding."""
    dim = len(background)
    clf = ViLDTextClassifier(in_features=dim, out_features=len(class_texts) + 1,
                             class_embeddings=torch.tensor(class_texts, dtype=torch.float64), temperature=0.01)
    clf = clf.double()
    with torch.no_grad():
        clf.projection.weight.copy_(torch.eye(dim))
        clf.projection.bias.zero_()
        clf.bg_embedding.copy_(torch.tensor(background, dtype=torch.float64))
    return clf


def test_temperature_scaled_softmax_with_learned_background():
    # region feature (3, 4) -> unit (0.6, 0.8); class kernels (8, 6) and (0, 2) -> unit (0.8, 0.6), (0, 1);
    # background kernel (5, 0) -> unit (1, 0). Official (vild_head.py): concat([bg, classes]) * 100:
    #   bg 100 * 0.6 = 60, class 1: 100 * (0.48 + 0.48) = 96, class 2: 100 * 0.8 = 80
    clf = _classifier([[8., 6.], [0., 2.]], [5., 0.])
    feature = torch.tensor([[3., 4.]], dtype=torch.float64)
    official_logits = [TEMPERATURE * 0.6, TEMPERATURE * 0.96, TEMPERATURE * 0.8]  # [bg, class 1, class 2]
    logits = clf(feature)
    torch.testing.assert_close(logits, torch.tensor([[96.0, 80.0, 60.0]], dtype=torch.float64))  # bg last
    assert logits[0, -1].item() == pytest.approx(official_logits[0])
    # training softmax over all 3 columns: Z = e^-36 + 1 + e^-16 (logits minus the maximum 96)
    z = math.exp(-36) + 1 + math.exp(-16)
    probs = logits.softmax(-1)[0]
    assert probs[0].item() == pytest.approx(1 / z, rel=1e-12)
    assert probs[1].item() == pytest.approx(math.exp(-16) / z, rel=1e-12)
    assert probs[2].item() == pytest.approx(math.exp(-36) / z, rel=1e-12)
    # test time (postprocess_ops.py): softmax over [bg, classes], then drop the background column, no
    # renormalisation: the class scores are the first two columns of ovd's softmax
    official_scores = torch.tensor(official_logits, dtype=torch.float64).softmax(-1)[1:]
    torch.testing.assert_close(probs[:2], official_scores)
    # the learned background is a direction: scaling its kernel changes nothing (official divides by its norm)
    with torch.no_grad():
        clf.bg_embedding.mul_(7.0)
    torch.testing.assert_close(clf(feature), logits)


def test_l1_distillation_times_512_on_normalised_embeddings():
    # Official (vild_model.py): teacher rows divided by their norm; valid = max(roi box) > 0; absolute_difference
    # with SUM_BY_NONZERO_WEIGHTS over [B, 300, 512] (the [B, 300, 1] weights broadcast over 512 dims), times
    # 512 = the summed L1 distance per valid region, averaged over the valid regions of the batch.
    e = torch.eye(CLIP_DIM, dtype=torch.float64)
    # image A (padded to 4 rows) and image B (padded to 4 rows); padding rows have box -1
    boxes = torch.tensor([
        [[10., 10., 50., 60.], [0., 0., 30., 30.], [-1., -1., -1., -1.], [-1., -1., -1., -1.]],
        [[0., 0., 0., 5.], [0., 0., 0., 0.], [-1., -1., -1., -1.], [-1., -1., -1., -1.]],
    ], dtype=torch.float64)
    student = torch.stack([
        torch.stack([e[0], (e[0] + e[1]) / math.sqrt(2), e[5], e[6]]),
        torch.stack([e[2], e[0], e[7], e[8]]),
    ])
    teacher = torch.stack([
        torch.stack([3 * e[1], 0.5 * e[0], e[9], e[9]]),  # norms 3 and 0.5: the teacher is normalised first
        torch.stack([-2 * e[2], e[3], e[9], e[9]]),
    ])
    # per-region L1 after normalising the teacher:
    #   A0: |e0 - e1| = 2;  A1: |(e0 + e1)/sqrt2 - e0| = (1 - 1/sqrt2) + 1/sqrt2 = 1
    #   B0: box (0, 0, 0, 5) has a positive coordinate: valid although it has no width; |e2 + e2| = 2
    #   B1: box all zeros (cropped away past the top-left corner): invalid; padding rows: invalid
    official = (2 + 1 + 2) / 3
    valid = (boxes.amax(-1, keepdim=True) > 0).double()  # [B, 4, 1]
    teacher_n = teacher / teacher.norm(dim=-1, keepdim=True)
    weights = valid.expand_as(student)
    restated = ((student - teacher_n).abs() * weights).sum() / (weights > 0).sum() * CLIP_DIM
    assert restated.item() == pytest.approx(official, rel=1e-12)
    # ovd: no padding rows; the same regions concatenated over the batch, the official validity rule
    rows = [(0, 0), (0, 1), (1, 0), (1, 1)]
    ovd_boxes = torch.stack([boxes[i, j] for i, j in rows])
    ovd_valid = valid_regions(ovd_boxes)
    assert ovd_valid.tolist() == [True, True, True, False]
    loss = distillation_l1_loss(torch.stack([student[i, j] for i, j in rows]),
                                torch.stack([teacher[i, j] for i, j in rows]), valid=ovd_valid)
    assert loss.item() == pytest.approx(official, rel=1e-12)
    # counting the invalid region too (|e0 - e3| = 2) would give (2 + 1 + 2 + 2) / 4
    unmasked = distillation_l1_loss(torch.stack([student[i, j] for i, j in rows]),
                                    torch.stack([teacher[i, j] for i, j in rows]))
    assert unmasked.item() == pytest.approx(7 / 4, rel=1e-12)


def test_ensemble_geometric_mean():
    # Official (postprocess_ops.py): text = softmax([bg, classes]) without bg; image = softmax(classes);
    # third = (1 - rare_mask) * image + rare_mask * text with rare_mask = 1 for base; score = (text*image*third)^(1/3)
    text_logits = torch.tensor([[math.log(2.0), math.log(5.0), math.log(3.0)]], dtype=torch.float64)  # bg last
    image_logits = torch.tensor([[math.log(4.0), math.log(1.0)]], dtype=torch.float64)
    text = text_logits.softmax(-1)  # 0.2, 0.5, 0.3 (bg)
    image = image_logits.softmax(-1)  # 0.8, 0.2
    torch.testing.assert_close(text, torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64))
    base_mask = torch.tensor([True, False])  # class 0 base, class 1 novel (rare)
    # base: (0.2 * 0.8 * 0.2)^(1/3) = 0.032^(1/3); novel: (0.5 * 0.2 * 0.2)^(1/3) = 0.02^(1/3)
    hand = [0.032 ** (1 / 3), 0.02 ** (1 / 3)]
    rare_mask = base_mask.double()
    third = (1 - rare_mask) * image + rare_mask * text[:, :2]
    restated = (text[:, :2] * image * third) ** (1 / 3)
    torch.testing.assert_close(restated[0], torch.tensor(hand, dtype=torch.float64))
    ours = ensemble_scores(text, image, base_mask, weight=2 / 3)
    torch.testing.assert_close(ours[0, :2], torch.tensor(hand, dtype=torch.float64))
    assert ours[0, 2].item() == pytest.approx(0.3)  # the background column is carried for mmdet's layout


def test_63_templates_averaged_per_prompt_normalised():
    assert len(VILD_TEMPLATES) == 63
    prompts = fill_templates('apple')
    # 'There is ...' (2) and 'itap of ...' (3) keep their text; the 58 starting with "a"/"an"/"the" get "This is "
    assert sum(p.startswith('This is ') for p in prompts) == 58
    assert prompts[0] == 'There is an apple in the scene.'
    assert prompts[2] == 'This is a photo of an apple in the scene.'
    assert prompts[62] == 'This is a painting of a apple.'  # the template's own fixed "a" stays
    index = {p: i for i, p in enumerate(prompts)}

    class Encoder:
        """Prompt i -> (i + 1) * e_x for even i, 7 * e_y for odd i: raw norms differ, directions are known."""

        def encode_text(self, texts):
            out = torch.zeros(len(texts), 3)
            for row, text in enumerate(texts):
                i = index[text]
                out[row] = torch.tensor([i + 1.0, 0., 0.]) if i % 2 == 0 else torch.tensor([0., 7.0, 0.])
            return out

    emb = encode_class_prompts(Encoder(), ['apple'], VILD_TEMPLATES, this_is=True, batch_size=10)
    # official: L2 per prompt -> 32 times e_x (even i = 0..62) and 31 times e_y; mean (32, 31) / 63; L2 again
    norm = math.sqrt(32 ** 2 + 31 ** 2)
    torch.testing.assert_close(emb[0], torch.tensor([32 / norm, 31 / norm, 0.0]))
    # averaging the raw outputs instead would give (1024, 217) / norm: sum of 1, 3, .., 63 and 31 x 7
    assert emb[0, 0].item() != pytest.approx(1024 / math.hypot(1024, 217), abs=1e-3)
