# Copyright (c) OpenMMLab. All rights reserved.
"""Rank-list pictures of a Re-ID test set: per query, the query and its top-k gallery images, framed green (true
match), red (false match) or grey (same identity and camera: junk, ignored by the protocol), with an orange corner tag
on gallery images from the query's camera (torchreid's visrank, fast-reid's visualize_result).

Features come from the model (the test dataloader through ``model.test_step``, as ``tools/test.py``) or from a
``tools/test.py --out FILE`` dump. Distances are those of ``ReIDMetric``'s default (Euclidean on L2-normalised
features). Writes ``rank_<query index>_<name>.png`` per query and ``ranks.json`` (the ranked lists).

Examples:
    python tools/visualization/vis_rank.py configs/dcal/demo_reid.py work_dirs/demo_reid/epoch_100.pth --out-dir vis/
    python tools/test.py configs/dcal/demo_reid.py CKPT --out feats.pkl
    python tools/visualization/vis_rank.py --dump feats.pkl --out-dir vis/ --topk 5 --queries 0 7 12
"""
import argparse
import json
import os
import os.path as osp
import pickle
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import dcal_mm  # noqa: E402,F401
from dcal_mm.visualization import draw_rank_list, match_kinds, rank_gallery  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Draw Re-ID rank lists of test-set queries')
    parser.add_argument('config', nargs='?', help='Re-ID config (not needed with --dump)')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (not needed with --dump)')
    parser.add_argument('--dump', help='a tools/test.py --out file to read the features from instead of the model')
    parser.add_argument('--out-dir', required=True, help='folder for the PNGs and ranks.json')
    parser.add_argument('--topk', type=int, default=10, help='gallery images per query')
    parser.add_argument('--num-queries', type=int, default=10, help='queries to draw, evenly spread over the set')
    parser.add_argument('--queries', type=int, nargs='+', help='indices (in the query set) of the queries to draw')
    parser.add_argument('--hide-junk', action='store_true', help='leave out junk (same id and camera) as the metric')
    parser.add_argument('--cell-size', type=int, nargs=2, default=(128, 64), metavar=('H', 'W'))
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    if args.dump is None and (args.config is None or args.checkpoint is None):
        parser.error('give CONFIG and CHECKPOINT, or --dump FILE')
    if args.topk < 1 or args.num_queries < 1:
        parser.error(f'--topk and --num-queries must be >= 1, got {args.topk} and {args.num_queries}')
    return args


def records_from_model(args):
    """Run the test set through the model as tools/test.py does; one dict per image."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpretrain import get_model

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = get_model(cfg, pretrained=args.checkpoint, device=args.device)
    loader_cfg = cfg.test_dataloader.copy()
    if loader_cfg.get('num_workers', 0) == 0:
        loader_cfg['persistent_workers'] = False
    loader = Runner.build_dataloader(loader_cfg)
    records = []
    with torch.no_grad():
        for batch in loader:
            records += [s.to_dict() for s in model.test_step(batch)]
    return records


def _scalar(record, key):
    value = record.get(key)
    if value is None:
        raise ValueError(f'vis_rank: a sample has no {key!r} (has {sorted(record)}); a Re-ID test set gives '
                         'gt_label, cam_id, is_query and img_path')
    return value.reshape(-1)[0].item() if isinstance(value, (torch.Tensor, np.ndarray)) else value


def split_records(records):
    """Query and gallery features and labels from test-set records."""
    if not records or 'pred_feature' not in records[0]:
        raise ValueError('vis_rank: the samples have no pred_feature; use a Re-ID model or a tools/test.py --out '
                         'dump of one')
    sets = {True: [], False: []}
    for r in records:
        sets[bool(_scalar(r, 'is_query'))].append(r)
    if not sets[True] or not sets[False]:
        raise ValueError(f'vis_rank: need queries and gallery images, got {len(sets[True])} and {len(sets[False])}')

    def unpack(rs):
        feats = torch.stack([torch.as_tensor(r['pred_feature']).float() for r in rs])
        return feats, [r['img_path'] for r in rs], [int(_scalar(r, 'gt_label')) for r in rs], \
            [int(_scalar(r, 'cam_id')) for r in rs]

    return unpack(sets[True]), unpack(sets[False])


def _read(path):
    img = cv2.imread(path)
    if img is None:
        raise ValueError(f'vis_rank: cannot read image {path}')
    return img


def write_rank_lists(records, out_dir, topk=10, num_queries=10, queries=None, hide_junk=False, cell_size=(128, 64)):
    """Rank-list PNGs and ``ranks.json`` of queries of ``records`` (a
    ``tools/test.py --out`` dump) in ``out_dir``; also what
    ``tools/test.py --show-dir`` writes for Re-ID models.

    Returns:
        list[dict]: One entry per query drawn (also in ``ranks.json``).
    """
    (q_feats, q_paths, q_pids, q_cams), (g_feats, g_paths, g_pids, g_cams) = split_records(records)
    if queries:
        bad = [i for i in queries if not 0 <= i < len(q_paths)]
        if bad:
            raise ValueError(f'vis_rank: --queries {bad} are outside 0..{len(q_paths) - 1}')
        chosen = list(queries)
    else:
        spread = np.linspace(0, len(q_paths) - 1, min(num_queries, len(q_paths))).round()
        chosen = sorted({int(i) for i in spread})
    order, dist = rank_gallery(q_feats[chosen], g_feats)
    os.makedirs(out_dir, exist_ok=True)
    summary = []
    for row, qi in enumerate(chosen):
        kinds = match_kinds(q_pids[qi], q_cams[qi], [g_pids[j] for j in order[row]], [g_cams[j] for j in order[row]])
        ranked = [(int(j), float(d), kind) for j, d, kind in zip(order[row], dist[row], kinds)
                  if not (hide_junk and kind == 'junk')][:topk]
        same_cam = [g_cams[j] == q_cams[qi] for j, _, _ in ranked]
        image = draw_rank_list(
            _read(q_paths[qi]), [_read(g_paths[j]) for j, _, _ in ranked], [k for _, _, k in ranked], same_cam,
            [f'q {q_pids[qi]}'] + [f'{n + 1}: {d:.2f}' for n, (_, d, _) in enumerate(ranked)], tuple(cell_size))
        out = osp.join(out_dir, f'rank_{qi:04d}_{osp.splitext(osp.basename(q_paths[qi]))[0]}.png')
        cv2.imwrite(out, image)
        summary.append(dict(query_index=qi, query=q_paths[qi], pid=q_pids[qi], cam_id=q_cams[qi], image=out,
                            gallery=[dict(path=g_paths[j], pid=g_pids[j], cam_id=g_cams[j], distance=d, kind=k,
                                          same_camera=c) for (j, d, k), c in zip(ranked, same_cam)]))
        print(f'query {qi} ({osp.basename(q_paths[qi])}): rank-1 {ranked[0][2]} -> {out}')
    with open(osp.join(out_dir, 'ranks.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    return summary


def main():
    args = parse_args()
    if args.dump:
        with open(args.dump, 'rb') as f:
            records = pickle.load(f)
    else:
        records = records_from_model(args)
    write_rank_lists(records, args.out_dir, topk=args.topk, num_queries=args.num_queries, queries=args.queries,
                     hide_junk=args.hide_junk, cell_size=args.cell_size)


if __name__ == '__main__':
    main()
