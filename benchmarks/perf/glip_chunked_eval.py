"""Chunked LVIS inference: ovd's fast GLIP path against mmdet 3.3's ``GLIP.predict(chunked_size=40)``.

Both models hold the same weights (ours are loaded into mmdet's GLIP, whose module names we keep) and see the same
images and LVIS v1 names (prompt names, 40 per chunk). Per image we time:
- peer: mmdet 3.3 ``GLIP.predict`` with ``test_cfg.chunked_size=40`` (backbone once per image, BERT + head per
  chunk per image, prompts padded to 256 tokens);
- ours fast: ``GLIPDetector.predict`` (backbone once per batch, text of each chunk encoded once per evaluation
  and cached, without deep fusion the DyHead tower once per image);
- ours naive (``--naive``): ``test_cfg.fast_chunked=False``, a full forward per chunk (the official GLIP loop).
and check the outputs agree (same top detections, labels, boxes and scores within float tolerance).

Per-image time over a dataset is ``fixed + n_chunks * per_chunk``; with ``--chunks-fit A,B`` both are measured at two
chunk counts and extrapolated to ``--target-chunks`` (31 for LVIS v1's 1203 names); the script prints both the measured
and the extrapolated numbers and says which is which.

Models (random weights, nothing downloaded). The tokenizer is ovd's tiny WordPiece with every word of the LVIS names
added as one token (``--tokenizer lvis-words``, the default), so a 40-name chunk has about as many tokens as with
bert-base-uncased's 30k vocabulary (~120, against ~224 with the bare tiny vocabulary, ``--tokenizer tiny``); mmdet
pads every prompt to 256 tokens either way, ovd does not pad:
- ``--size tiny``: Swin (embed 32, depth 1 per stage), FPN 256, 1 VL-DyHead block, 1-layer 768-d BERT, 192 px
  (mmdet's fusion layers are hard-wired to 256-d vision / 768-d text / 2048-d attention, which fixes those widths).
- ``--size full``: GLIP-T: Swin-T, FPN 256, 6 VL-DyHead blocks, 12-layer BERT-base, 800x1333.

Usage::

    python benchmarks/perf/glip_chunked_eval.py --size tiny --chunks 31 --images 3 --naive
    python benchmarks/perf/glip_chunked_eval.py --size full --chunks-fit 1,2 --images 1 --fusion on
"""
import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def lvis_prompt_names():
    """LVIS v1 names in id order as GLIP's prompts spell them (its ``clean_name``: ``bow_(weapon)`` -> ``bow ``)."""
    from ovd.data.vocab import get_vocabulary
    return list(get_vocabulary('lvis_v1').prompt_texts('glip'))


def write_bert(directory: Path, full: bool, whole_words=()) -> str:
    from transformers import BertConfig, BertModel

    from ovd.data.synthetic.tiny_text import build_tiny_bert_tokenizer
    tok = build_tiny_bert_tokenizer(whole_words=whole_words)
    layers = 12 if full else 1
    cfg = BertConfig(vocab_size=len(tok), hidden_size=768, num_hidden_layers=layers, num_attention_heads=12,
                     intermediate_size=3072, max_position_embeddings=512, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(directory)
    tok.save_pretrained(directory)
    return str(directory)


def model_cfgs(size: str, bert: str, fusion: bool):
    from mmengine.config import Config

    from ovd.testing.glip import mmdet_glip_config
    cfg = Config.fromfile(str(REPO / 'configs/glip/_base_/glip_swin-t_fpn_dyhead.py'))
    ours = copy.deepcopy(cfg.model)
    ours.bbox_head.lang_model_name = bert
    ours.bbox_head.early_fuse = fusion
    ours.language_model.name = bert
    ours.test_cfg.update(chunk_size=40, max_per_img=300, merged_max_per_img=-1, score_thr=0.05)
    if size == 'tiny':
        ours.backbone.update(embed_dims=32, depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8], drop_path_rate=0.0)
        ours.neck.in_channels = [64, 128, 256]
        ours.bbox_head.num_dyhead_blocks = 1
    # mmdet's candidate ranking on our side too, so the two give the same detections
    ours.test_cfg.candidate_ranking = 'mmdet'
    peer = mmdet_glip_config(ours, dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                                        nms=dict(type='nms', iou_threshold=0.6), max_per_img=300, chunked_size=40))
    return ours, peer


def sample(names, shape, ours: bool):
    """A detection sample: ours reads the vocabulary from the model (set_vocabulary), mmdet's from ``text``."""
    from mmdet.structures import DetDataSample
    ds = DetDataSample()
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape, scale_factor=(1.0, 1.0))
    if not ours:
        meta.update(text=tuple(names), custom_entities=True)
    ds.set_metainfo(meta)
    return ds


def timed(fn, reps=1):
    t0 = time.perf_counter()
    for _ in range(reps):
        out = fn()
    return (time.perf_counter() - t0) / reps, out


def compare(ours, peer, top=100):
    """Agreement of the top detections.

    ``same_label_frac``/``max_*_diff`` compare rank by rank (two scores equal to float rounding may swap ranks);
    ``matched_frac`` is the share of our top detections that the peer also has (same label, box within 0.01 px,
    score within 1e-5), which rank swaps do not affect.
    """
    o = ours.pred_instances
    p = peer.pred_instances
    oi = torch.argsort(o.scores, descending=True)[:top]
    pi = torch.argsort(p.scores, descending=True)[:top]
    n = min(len(oi), len(pi))
    same = (o.labels[oi[:n]] == p.labels[pi[:n]]).float().mean().item() if n else 1.0
    dbox = (o.bboxes[oi[:n]] - p.bboxes[pi[:n]]).abs().max().item() if n else 0.0
    dscore = (o.scores[oi[:n]] - p.scores[pi[:n]]).abs().max().item() if n else 0.0
    matched = sum(bool(((p.labels == o.labels[i]) & ((p.bboxes - o.bboxes[i]).abs().amax(1) < 1e-2)
                        & ((p.scores - o.scores[i]).abs() < 1e-5)).any()) for i in oi.tolist())
    return dict(n_ours=len(o), n_peer=len(p), compared=n, matched_frac=matched / max(len(oi), 1),
                same_label_frac=same, max_box_diff=dbox, max_score_diff=dscore)


def run(args, n_chunks, models, names_all, images, shape):
    ours, peer = models
    names = names_all[:n_chunks * 40]
    ours.set_vocabulary(names)
    res = {}
    with torch.no_grad():
        ours.test_cfg.fast_chunked = True
        ours.train()
        ours.eval()  # fresh text cache: the first image pays the text side, the rest reuse it
        cold, first = timed(lambda: ours.predict(images[:1], [sample(names, shape, True)]))
        t = [timed(lambda i=i: ours.predict(images[i:i + 1], [sample(names, shape, True)]))[0]
             for i in range(1, len(images))] or [cold]
        res['ours_fast_first_image_s'] = cold
        res['ours_fast_s'] = sum(t) / len(t)
        tp = []
        for i in range(len(images)):
            dt, out = timed(lambda i=i: peer.predict(images[i:i + 1], [sample(names, shape, False)]))
            tp.append(dt)
            if i == 0:
                peer_first = out[0]
        res['peer_s'] = sum(tp[1:] or tp) / len(tp[1:] or tp)
        if args.naive:
            ours.test_cfg.fast_chunked = False
            tn = [timed(lambda i=i: ours.predict(images[i:i + 1], [sample(names, shape, True)]))[0]
                  for i in range(len(images))]
            res['ours_naive_s'] = sum(tn) / len(tn)
        res['agreement_vs_peer'] = compare(first[0], peer_first)
    return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', choices=['tiny', 'full'], default='tiny')
    parser.add_argument('--fusion', choices=['on', 'off'], default='on', help='deep fusion (T(B)+) or not (T(A))')
    parser.add_argument('--chunks', type=int, default=31, help='measure at this many chunks of 40 names')
    parser.add_argument('--chunks-fit', default='', help='two chunk counts "A,B": fit fixed + per-chunk cost')
    parser.add_argument('--target-chunks', type=int, default=31)
    parser.add_argument('--images', type=int, default=3)
    parser.add_argument('--naive', action='store_true', help='also time the naive per-chunk full forward')
    parser.add_argument('--threads', type=int, default=0)
    parser.add_argument('--chunk-batch', type=int, default=4,
                        help='ours: prompts run through the fused head at once (test_cfg.chunk_batch_size)')
    parser.add_argument('--tokenizer', choices=['lvis-words', 'tiny'], default='lvis-words',
                        help='tiny WordPiece with the LVIS words as whole tokens (bert-base-like lengths), or bare')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import ovd  # noqa: F401  (registers the ovd scope)
    from mmengine.registry import init_default_scope

    from ovd.registry import MODELS
    init_default_scope('ovd')
    tmp = Path(tempfile.mkdtemp(prefix='glip-bench-'))
    names = lvis_prompt_names()
    bert = write_bert(tmp / 'bert', args.size == 'full', names if args.tokenizer == 'lvis-words' else ())
    ours_cfg, peer_cfg = model_cfgs(args.size, bert, args.fusion == 'on')
    ours_cfg.test_cfg.chunk_batch_size = args.chunk_batch
    torch.manual_seed(0)
    ours = MODELS.build(ours_cfg).eval()
    peer = MODELS.build(peer_cfg).eval()
    missing = peer.load_state_dict(ours.state_dict(), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    # Give the alignment a realistic spread of scores (a random head scores every anchor ~0.01).
    with torch.no_grad():
        for model in (ours, peer):
            model.bbox_head.head.bias0.fill_(-2.0)
    shape = (192, 192) if args.size == 'tiny' else (800, 1216)
    g = torch.Generator().manual_seed(0)
    images = torch.randn(args.images, 3, *shape, generator=g) * 50
    counts = [int(c) for c in args.chunks_fit.split(',')] if args.chunks_fit else [args.chunks]
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(bert)
    lengths = [len(tok('. '.join(names[i:i + 40]) + '.')['input_ids']) for i in range(0, len(names), 40)]
    report = dict(size=args.size, fusion=args.fusion, image_shape=shape, images=args.images,
                  chunk_batch_size=args.chunk_batch, tokenizer=args.tokenizer,
                  mean_tokens_per_chunk=sum(lengths) / len(lengths),
                  threads=torch.get_num_threads(), peer='mmdet 3.3 GLIP.predict chunked_size=40', runs={})
    for n in counts:
        report['runs'][n] = run(args, n, (ours, peer), names, images, shape)
        print(json.dumps({n: report['runs'][n]}, indent=1), flush=True)
    if len(counts) == 2:
        a, b = counts
        report['extrapolated_to'] = args.target_chunks
        for key in ('ours_fast_s', 'peer_s', 'ours_naive_s'):
            if key in report['runs'][a]:
                per_chunk = (report['runs'][b][key] - report['runs'][a][key]) / (b - a)
                fixed = report['runs'][a][key] - a * per_chunk
                report[f'{key}_per_chunk'] = per_chunk
                report[f'{key}_fixed'] = fixed
                report[f'{key}_at_{args.target_chunks}'] = fixed + args.target_chunks * per_chunk
        ratio = report[f'peer_s_at_{args.target_chunks}'] / report[f'ours_fast_s_at_{args.target_chunks}']
        print(f'EXTRAPOLATED to {args.target_chunks} chunks from {a} and {b}: peer/ours = {ratio:.2f}x')
    else:
        r = report['runs'][counts[0]]
        print(f'MEASURED at {counts[0]} chunks: peer/ours = {r["peer_s"] / r["ours_fast_s"]:.2f}x'
              + (f', naive/ours = {r["ours_naive_s"] / r["ours_fast_s"]:.2f}x' if 'ours_naive_s' in r else ''))
    print(json.dumps(report, indent=1, default=str))


if __name__ == '__main__':
    main()
