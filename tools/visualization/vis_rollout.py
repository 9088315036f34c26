# Copyright (c) OpenMMLab. All rights reserved.
"""Write, for each image, a PNG of the attention-rollout heat map and of the patches GLCA selected.

Each PNG holds three panels at the model's input size: the test view of the image, the rollout CLS row over the
patches (jet colour map, blended), and the image with the GLCA query patches outlined. A ViT model without GLCA (the
SA baseline, GLSim) gets the first two. tools/visualization/vis_attention.py draws every method's maps.

Example:
    python tools/visualization/vis_rollout.py configs/dcal/demo_fgvc.py work_dirs/demo_fgvc/epoch_30.pth \\
        data/demo/CUB_200_2011/images/001.Bar_Crown/*.jpg --out-dir vis/
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

import dcal_mm  # noqa: E402,F401
from dcal_mm.apis import build_inference_model  # noqa: E402
from dcal_mm.visualization import save_attention_picture  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Visualise DCAL attention rollout and GLCA token selection')
    parser.add_argument('config', help='config file (or model name) of a ViT model')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', default='vis_rollout', help='folder for the PNGs')
    parser.add_argument('--scale', type=int, default=1, help='upscale factor of the panels (nearest)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def main():
    args = parse_args()
    model, pipeline = build_inference_model(args.config, args.checkpoint, args.device, args.cfg_options)
    os.makedirs(args.out_dir, exist_ok=True)
    if not hasattr(getattr(model, 'backbone', None), 'forward_tokens'):
        raise ValueError(f'{args.config}: {type(model).__name__} has no ViT backbone, so no attention rollout; '
                         'use tools/visualization/vis_attention.py')
    for path in args.images:
        out = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '_rollout.png')
        maps = save_attention_picture(model, pipeline, path, out, keys=('rollout', 'glca'), scale=args.scale,
                                      labelled=False)
        what = f'{int(maps["glca"][0].sum())} patches selected' if 'glca' in maps else 'no GLCA'
        print(f'{path}: {what} -> {out}')


if __name__ == '__main__':
    main()
