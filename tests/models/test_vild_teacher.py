"""The CLIP region teacher (crops at 1x/1.5x, batched) and the shard selection of ``ovd precompute-regions``."""
import pytest
import torch
import torch.nn.functional as F

from ovd.commands.precompute_regions import parse_shard
from ovd.models.vild.clip_region_teacher import CLIPRegionTeacher, scale_boxes_about_center


def test_scale_boxes_about_center_hand_worked():
    boxes = torch.tensor([[10., 10., 30., 50.], [0., 0., 20., 20.]])
    out = scale_boxes_about_center(boxes, 1.5, height=100, width=35)
    # centre (20, 30), size 20x40 -> 30x60: [5, 0, 35, 60]; the second one is clipped at 0
    torch.testing.assert_close(out, torch.tensor([[5., 0., 35., 60.], [0., 0., 25., 25.]]))


@pytest.fixture(scope='module')
def teacher():
    from ovd.data.synthetic.tiny_text import build_tiny_clip
    return CLIPRegionTeacher(build_tiny_clip(), crop_scales=(1.0, 1.5), chunk_size=3)


def test_full_image_box_equals_clip_of_the_image(teacher):
    size = teacher.input_size  # (32, 32) for the tiny CLIP
    image = torch.randint(0, 256, (3, *size)).float()
    out = teacher([image], [torch.tensor([[0., 0., size[1], size[0]]])])[0]
    # both crops are the whole image (the 1.5x one is clipped), so the teacher is plain CLIP on the image
    expected = F.normalize(teacher.encoder.encode_image((image[None] - teacher.mean) / teacher.std), dim=-1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


def test_batched_crops_match_one_by_one(teacher):
    torch.manual_seed(0)
    image = torch.randint(0, 256, (3, 50, 70)).float()
    boxes = torch.tensor([[0., 0., 20., 20.], [10., 5., 60., 45.], [30., 30., 70., 50.], [5., 5., 6., 40.],
                          [1., 2., 3., 4.]])
    batched = teacher([image], [boxes])[0]  # chunks of 3: two encoder calls
    single = torch.cat([teacher([image], [b[None]])[0] for b in boxes])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)
    assert batched.shape == (5, teacher.embed_dim)
    torch.testing.assert_close(batched.norm(dim=1), torch.ones(5))
    assert teacher([image], [boxes[:0]])[0].shape == (0, teacher.embed_dim)


def test_parse_shard_from_flag_and_slurm():
    assert parse_shard('3/8') == (3, 8)
    assert parse_shard(None, 4, environ={'SLURM_ARRAY_TASK_ID': '12', 'SLURM_ARRAY_TASK_MIN': '10'}) == (2, 4)
    assert parse_shard(None, None, environ={'SLURM_ARRAY_TASK_ID': '1', 'SLURM_ARRAY_TASK_COUNT': '5'}) == (1, 5)
    assert parse_shard(None, None, environ={}) == (0, 1)
    with pytest.raises(ValueError, match='out of range'):
        parse_shard('8/8')
    with pytest.raises(ValueError, match='I/N'):
        parse_shard('3-8')
    with pytest.raises(ValueError, match='give --shard I/4'):
        parse_shard(None, 4, environ={})
