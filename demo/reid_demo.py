# Copyright (c) OpenMMLab. All rights reserved.
"""Re-ID retrieval demo: rank a gallery for each query with a dcal_mm Re-ID model (DCAL, its SA baseline, RGA)
through MMPretrain's ImageRetrievalInferencer. QUERY and GALLERY are image files or folders (searched recursively).
Prints the top-k gallery images per query with their cosine similarity (the ranking of the Re-ID metric) and writes a
rank-list PNG per query (query framed blue, gallery in rank order with the similarity below).

Example:
    python demo/reid_demo.py data/demo/Market-1501-v15.09.15/query/0003_c2s1_014840_00.jpg \\
        data/demo/Market-1501-v15.09.15/bounding_box_test configs/dcal/demo_reid.py \\
        work_dirs/demo_reid/epoch_100.pth --out-dir reid_demo/

QUERY GALLERY CONFIG CHECKPOINT are positional (CONFIG CHECKPOINT as in MMPretrain's tools; without CHECKPOINT, or
with ``none``, random weights); ``--checkpoint CKPT`` still works for one release and prints a deprecation message.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
from mmpretrain import ImageRetrievalInferencer  # noqa: E402

import dcal_mm  # noqa: E402,F401
from dcal_mm.apis import build_inference_model  # noqa: E402
from dcal_mm.utils.cli import add_checkpoint_args, resolve_checkpoint  # noqa: E402
from dcal_mm.utils.errors import install_excepthook  # noqa: E402
from dcal_mm.visualization import draw_rank_list  # noqa: E402

IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Re-ID retrieval demo')
    parser.add_argument('query', help='query image or folder')
    parser.add_argument('gallery', help='gallery image or folder')
    parser.add_argument('model', help='config file or model name (mmpretrain.list_models())')
    add_checkpoint_args(parser, 'QUERY GALLERY CONFIG CHECKPOINT', 'fourth')
    parser.add_argument('--topk', type=int, default=5, help='gallery images shown per query')
    parser.add_argument('--out-dir', default='reid_demo', help='folder for the rank-list PNGs')
    parser.add_argument('--cell-size', type=int, nargs=2, default=(128, 64), metavar=('H', 'W'))
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--device', default='cpu')
    return resolve_checkpoint(parser, parser.parse_args(argv))


def list_images(path):
    """One image file, or the images under a folder (sorted, recursive)."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path} is neither an image file nor a folder')
    files = sorted(osp.join(root, name) for root, _, names in os.walk(path) for name in names
                   if name.lower().endswith(IMG_SUFFIXES))
    if not files:
        raise ValueError(f'{path} holds no image ({", ".join(IMG_SUFFIXES)})')
    return files


def main():
    args = parse_args()
    install_excepthook()
    queries, gallery = list_images(args.query), list_images(args.gallery)
    model, _ = build_inference_model(args.model, args.checkpoint, args.device)
    inferencer = ImageRetrievalInferencer(model, prototype=gallery, prepare_batch_size=args.batch_size,
                                          device=args.device)
    topk = min(args.topk, len(gallery))
    results = inferencer(queries, topk=topk, batch_size=args.batch_size)
    os.makedirs(args.out_dir, exist_ok=True)
    for query, matches in zip(queries, results):
        print(f'\nquery {query}:')
        for rank, m in enumerate(matches, 1):
            print(f'  {rank}. {m["sample"]["img_path"]}  similarity {float(m["match_score"]):.4f}')
        picture = draw_rank_list(
            cv2.imread(query), [cv2.imread(m['sample']['img_path']) for m in matches],
            captions=['query'] + [f'{r}: {float(m["match_score"]):.2f}' for r, m in enumerate(matches, 1)],
            cell_size=tuple(args.cell_size))
        out = osp.join(args.out_dir, f'rank_{osp.splitext(osp.basename(query))[0]}.png')
        cv2.imwrite(out, picture)
        print(f'  -> {out}')


if __name__ == '__main__':
    main()
