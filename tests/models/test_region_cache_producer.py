"""A region cache names the weights it was built from, not just their paths: the world's CLIP link moving to a
retrained CLIP, or a proposal checkpoint overwritten by a retrained detector, makes the old cache refused (with
the differing key named) instead of silently reused."""
import pytest

from ovd.data.region_cache import FieldSpec, RegionCacheError, RegionCacheWriter
from ovd.models.vild.region_precompute import _identified

FIELDS = {'scores': FieldSpec('float32')}


def test_a_linked_clip_is_named_by_its_target_and_a_checkpoint_by_its_digest(tmp_path):
    (tmp_path / 'clip' / 'a').mkdir(parents=True)
    (tmp_path / 'clip' / 'b').mkdir()
    (tmp_path / 'clip' / 'current').symlink_to('a', target_is_directory=True)
    clip = {'model_name': f'local-dir:{tmp_path}/clip/current', 'pretrained': None}
    assert _identified(clip) == {'model_name': f'local-dir:{tmp_path}/clip/a', 'pretrained': None}
    assert _identified({'model_name': 'ViT-B-32', 'pretrained': 'openai'}) == \
        {'model_name': 'ViT-B-32', 'pretrained': 'openai'}
    checkpoint = tmp_path / 'iter_400.pth'
    checkpoint.write_bytes(b'weights one')
    proposal = {'config': 'base-only.py', 'checkpoint': str(checkpoint)}
    first = _identified(proposal)
    assert first['checkpoint'] == str(checkpoint) and len(first['checkpoint_sha256']) == 64
    assert _identified({'config': 'x.py', 'checkpoint': None}) == {'config': 'x.py', 'checkpoint': None}

    RegionCacheWriter(tmp_path / 'cache', 0, 1, FIELDS, producer={'proposal_model': first,
                                                                  'clip': _identified(clip)}, durable=False).close()
    checkpoint.write_bytes(b'weights two')  # the proposal model was retrained
    with pytest.raises(RegionCacheError, match='producer.proposal_model.checkpoint_sha256'):
        RegionCacheWriter(tmp_path / 'cache', 0, 1, FIELDS,
                          producer={'proposal_model': _identified(proposal), 'clip': _identified(clip)})
    checkpoint.write_bytes(b'weights one')
    (tmp_path / 'clip' / 'current').unlink()
    (tmp_path / 'clip' / 'current').symlink_to('b', target_is_directory=True)  # the CLIP was retrained
    with pytest.raises(RegionCacheError, match='producer.clip.model_name'):
        RegionCacheWriter(tmp_path / 'cache', 0, 1, FIELDS,
                          producer={'proposal_model': _identified(proposal), 'clip': _identified(clip)})
