"""MDETR post-processing: phrase grounding ranking and detection scores from class-name captions."""
import math

import pytest
import torch

from ovd.models.mdetr.postprocess import (boxes_to_pixels, detection_results, grounding_results,
                                          stack_name_maps)


def logits_from_probs(prob: torch.Tensor) -> torch.Tensor:
    return prob.clamp(min=1e-12).log()


def test_boxes_to_pixels_rescales_without_clipping():
    boxes = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.95, 0.5, 0.2, 0.2]])
    out = boxes_to_pixels(boxes, (100, 200), scale_factor=(2.0, 4.0))
    # resized image 100 x 200: (50, 25, 150, 75) and (170, 40, 210, 60) (past the border, as the official
    # code)
    assert torch.allclose(out, torch.tensor([[25., 6.25, 75, 18.75], [85, 10, 105, 15]]))


def test_grounding_ranks_queries_by_max_probability_on_phrase_tokens():
    # T = 5 slots (last = no-object); phrase 0 on tokens {1, 2}, phrase 1 on token {3}
    prob = torch.tensor([[0.0, 0.3, 0.3, 0.0, 0.4],    # q0: max on phrase 0 = 0.3, mass 0.6
                         [0.0, 0.5, 0.0, 0.1, 0.4],    # q1: max 0.5, mass 0.5
                         [0.0, 0.0, 0.1, 0.8, 0.1]])   # q2: phrase 0: 0.1 ; phrase 1: 0.8
    boxes = torch.tensor([[0.1, 0.1, 0.1, 0.1], [0.5, 0.5, 0.2, 0.2], [0.8, 0.8, 0.2, 0.2]])
    pm = torch.tensor([[0, 1, 1, 0, 0.], [0, 0, 0, 1, 0.]])
    res = grounding_results(logits_from_probs(prob), boxes, pm, (10, 10), reduce='max')
    assert res.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.allclose(res.scores, torch.tensor([0.5, 0.3, 0.1, 0.8, 0.1, 0.0]), atol=1e-5)
    # phrase 0's best box is q1's box (5, 5) +- 1
    assert torch.allclose(res.bboxes[0], torch.tensor([4., 4, 6, 6]))
    assert torch.allclose(res.bboxes[3], torch.tensor([7., 7, 9, 9]))
    summed = grounding_results(logits_from_probs(prob), boxes, pm, (10, 10), reduce='sum')
    assert torch.allclose(summed.scores[:3], torch.tensor([0.6, 0.5, 0.1]), atol=1e-5)
    with pytest.raises(ValueError, match='reduce'):
        grounding_results(prob, boxes, pm, (10, 10), reduce='mean')


def test_detection_scores_are_one_minus_no_object_with_caption_labels():
    # two captions x two queries, T = 4; each caption one class name (vocabulary indices 7 and 3)
    prob = torch.tensor([[[0.6, 0.1, 0.1, 0.2], [0.1, 0.0, 0.0, 0.9]],
                         [[0.2, 0.2, 0.1, 0.5], [0.7, 0.2, 0.0, 0.1]]])
    boxes = torch.full((2, 2, 4), 0.5)
    maps, labels = stack_name_maps([torch.tensor([[1., 0, 0, 0]]), torch.tensor([[1., 1, 0, 0]])], [[7], [3]])
    res = detection_results(logits_from_probs(prob), boxes, maps, labels, (10, 10))
    assert res.labels.tolist() == [7, 7, 3, 3]
    assert torch.allclose(res.scores, torch.tensor([0.8, 0.1, 0.5, 0.9]), atol=1e-5)
    top = detection_results(logits_from_probs(prob), boxes, maps, labels, (10, 10), max_per_img=2)
    assert sorted(top.scores.tolist()) == pytest.approx([0.8, 0.9])


def test_detection_with_several_names_per_caption_labels_by_token_mass():
    # one caption "cat. dog": cat on token 1, dog on tokens 3-4; T = 6
    prob = torch.tensor([[[0.0, 0.7, 0.0, 0.1, 0.1, 0.1],
                          [0.0, 0.1, 0.0, 0.3, 0.3, 0.3]]])
    maps, labels = stack_name_maps([torch.tensor([[0, 1., 0, 0, 0, 0], [0, 0, 0, 1, 1, 0]])], [[4, 9]])
    res = detection_results(logits_from_probs(prob), torch.full((1, 2, 4), 0.5), maps, labels, (10, 10))
    assert res.labels.tolist() == [4, 9]
    assert torch.allclose(res.scores, torch.tensor([0.9, 0.7]), atol=1e-5)


def test_stack_name_maps_pads_absent_names():
    maps, labels = stack_name_maps([torch.ones(2, 3), torch.ones(1, 3)], [[0, 1], [2]])
    assert maps.shape == (2, 2, 3) and maps[1, 1].sum() == 0
    assert labels.tolist() == [[0, 1], [2, -1]]
    assert math.isclose(float(maps.sum()), 9.0)
