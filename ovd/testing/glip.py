"""mmdet 3.3's own GLIP configured as the same model as an ovd GLIP config: the reference of the GLIP parity test
and the peer of the GLIP benchmarks.

The two share parameter names, so weights move between them with ``load_state_dict``; what differs is the head
class (mmdet's ``ATSSVLFusionHead`` with its focal loss), mmdet's ``BertModel`` wrapper (pads to 256 tokens) and
mmdet's test config keys.
"""
import copy


def mmdet_glip_config(ours, test_cfg: dict):
    """The ``mmdet.GLIP`` model config equal to the ovd GLIP model config ``ours`` (an mmengine ConfigDict).

    Args:
        ours: ovd's ``model`` config (left unchanged).
        test_cfg: mmdet's test config for the peer (its keys, e.g. ``chunked_size``, not ovd's).
    """
    peer = copy.deepcopy(ours)
    peer.type = 'mmdet.GLIP'
    peer.pop('max_tokens')
    head = peer.bbox_head
    head.type = 'mmdet.ATSSVLFusionHead'
    head.num_classes = 80
    head.pop('loss_align')
    head.loss_cls = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)
    head.use_checkpoint = False
    peer.language_model = dict(type='mmdet.BertModel', name=ours.language_model.name, max_tokens=256)
    peer.test_cfg = dict(test_cfg)
    for key in ('num_negatives', 'full_negatives_prob'):
        peer.train_cfg.pop(key)
    return peer
