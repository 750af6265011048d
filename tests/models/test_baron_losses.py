"""InfoNCE (with masked positives and queued negatives), the feature queue and BARON's ensemble formula."""
import math
import os

import pytest
import torch
import torch.nn.functional as F

from ovd.models.baron.ensemble import ensemble_probabilities
from ovd.models.baron.feature_queue import FeatureQueue, gather_rows
from ovd.models.baron.info_nce import info_nce, symmetric_info_nce

E1, E2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
LOSS_1_VS_0 = math.log(1 + math.exp(-1))  # positive logit 1 against one negative of logit 0


def test_info_nce_hand_worked():
    q = torch.stack([E1, E2])
    assert info_nce(q, q, scale=1.0).item() == pytest.approx(LOSS_1_VS_0)
    # scale multiplies the logits: -log(e^s / (e^s + 1))
    assert info_nce(q, q, scale=30.0).item() == pytest.approx(math.log(1 + math.exp(-30)), abs=1e-9)
    # a queued key equal to query 0: query 0 now has two negatives (0 and 1), query 1 two of logit 0
    keys = torch.stack([E1, E2, E1])
    row0 = -math.log(math.e / (math.e + 1 + math.e))
    row1 = -math.log(math.e / (math.e + 1 + 1))
    assert info_nce(q, keys, 1.0).item() == pytest.approx((row0 + row1) / 2)


def test_info_nce_masks_same_item_and_same_image():
    q = torch.stack([E1, E2])
    keys = torch.stack([E1, E2, E1])
    ignore = torch.tensor([[True, True, True],     # the diagonal is never removed; key 1 and queued 2 are
                           [False, False, False]])
    loss = info_nce(q, keys, 1.0, ignore)
    row1 = -math.log(math.e / (math.e + 1 + 1))
    assert loss.item() == pytest.approx((0.0 + row1) / 2)


def test_symmetric_info_nce_positives_from_same_bag_are_not_negatives():
    # sequences 0 and 1 are two orders of one bag: identical teacher keys; 2 is another bag
    text = F.normalize(torch.tensor([[1.0, 0.1], [1.0, -0.1], [0.0, 1.0]]), dim=1)
    image = torch.stack([E1, E1, E2])
    bag = torch.tensor([0, 0, 1])
    masked = symmetric_info_nce(text, image, 10.0, same=bag[:, None] == bag[None])
    # by hand: with the same-bag pair removed each query only competes with the other bag
    expected = 0.0
    for a, b in ((text, image), (image, text)):
        logits = 10.0 * a @ b.t()
        logits[0, 1] = logits[1, 0] = float('-inf')
        expected += 0.5 * F.cross_entropy(logits, torch.arange(3)).item()
    assert masked.item() == pytest.approx(expected, rel=1e-5)
    unmasked = symmetric_info_nce(text, image, 10.0)
    assert unmasked.item() > masked.item() + 0.4  # the duplicate key would otherwise be a hard false negative


def test_symmetric_info_nce_queue_of_same_image_is_ignored():
    a = torch.stack([E1, E2])
    queue = torch.stack([E1])  # a queued copy of item 0's key, from item 0's image
    same_image = torch.tensor([[True], [False]])
    plain = symmetric_info_nce(a, a, 1.0)
    ignored = symmetric_info_nce(a, a, 1.0, queue_a=queue, queue_b=queue, queue_ignore_a=same_image,
                                 queue_ignore_b=same_image)
    assert ignored.item() == pytest.approx(
        0.5 * 2 * (LOSS_1_VS_0 + -math.log(math.e / (math.e + 2))) / 2)
    assert ignored.item() > plain.item()  # query 1 gained a real negative; query 0's duplicate was dropped


def test_queue_fifo_newest_first():
    queue = FeatureQueue(length=3, dim=2)
    assert len(queue) == 0 and queue.get()[0].shape == (0, 2)
    queue.enqueue(torch.tensor([[1.0, 0.0], [2.0, 0.0]]), torch.tensor([10, 11]))
    queue.enqueue(torch.tensor([[3.0, 0.0], [4.0, 0.0]]), torch.tensor([12, 13]))
    feats, ids = queue.get()
    assert feats[:, 0].tolist() == [3.0, 4.0, 1.0] and ids.tolist() == [12, 13, 10]
    queue.enqueue(torch.arange(10.0).view(5, 2), torch.arange(5))  # a batch longer than the queue
    assert queue.get()[1].tolist() == [0, 1, 2]
    grad = torch.ones(1, 2, requires_grad=True)
    queue.enqueue(grad * 2, torch.tensor([7]))
    assert not queue.get()[0].requires_grad
    with pytest.raises(ValueError, match='ids must be >= 0'):
        queue.enqueue(torch.zeros(1, 2), torch.tensor([-1]))
    with pytest.raises(ValueError, match=r'features \[N, 2\]'):
        queue.enqueue(torch.zeros(1, 3), torch.tensor([0]))
    assert 'features' not in queue.state_dict()  # a training-time cache, not a weight


def test_gather_rows_single_process_is_identity():
    x = torch.arange(6.0).view(3, 2)
    assert gather_rows(x) is x


def _two_rank_worker(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    queue = FeatureQueue(length=8, dim=2)
    # ranks enqueue different numbers of rows
    rows = torch.full((rank + 1, 2), float(rank))
    queue.enqueue(rows, torch.full((rank + 1,), rank))
    feats, ids = queue.get()
    torch.save({'feats': feats, 'ids': ids}, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.destroy_process_group()


def test_queue_gathers_across_ranks(tmp_path):
    import torch.multiprocessing as mp
    mp.start_processes(_two_rank_worker, args=(str(tmp_path / 'init'), str(tmp_path)), nprocs=2,
                       start_method='fork')  # children inherit the imports: seconds, not a minute
    results = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    for res in results:  # identical queues: rank 0's row, then rank 1's two rows
        assert res['ids'].tolist() == [0, 1, 1]
        assert res['feats'][:, 0].tolist() == [0.0, 1.0, 1.0]


def test_ensemble_formula():
    det = torch.tensor([[0.6, 0.2, 0.2]])
    kd = torch.tensor([[0.2, 0.6, 0.2]])
    base = torch.tensor([True, False])
    out = ensemble_probabilities(det, kd, base, weight=2 / 3)[0]
    expected = [0.6 ** (2 / 3) * 0.2 ** (1 / 3),   # base: detection branch weighs 2/3
                0.2 ** (1 / 3) * 0.6 ** (2 / 3),   # novel: distillation branch weighs 2/3
                0.2]                                # background follows the base rule
    assert out.tolist() == pytest.approx(expected)
    assert ensemble_probabilities(det, kd, base, weight=1.0)[0].tolist() == pytest.approx([0.6, 0.6, 0.2])
    with pytest.raises(ValueError, match='shapes'):
        ensemble_probabilities(det, kd, torch.tensor([True]))
    with pytest.raises(ValueError, match='weight'):
        ensemble_probabilities(det, kd, base, weight=0.4)
