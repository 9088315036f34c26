# Copyright (c) OpenMMLab. All rights reserved.
"""Attention pictures of any dcal_mm model, one PNG per image: the model's view of the image, then one panel per map
the model has - the attention rollout (any ViT: DCAL, its SA baseline, GLSim), the patches GLCA selects (green),
GLSim's crop box (yellow), RGA's spatial attention after each stage, CLAN's cross-layer spatial maps. Heat maps use
the jet colour map blended with the view. See dcal_mm.visualization.attention_maps.

Example:
    python tools/visualization/vis_attention.py configs/glsim/glsim_demo.py data/demo/CUB_200_2011/images/001*/*.jpg \\
        --checkpoint work_dirs/glsim_demo/epoch_30.pth --out-dir vis/
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
    parser = argparse.ArgumentParser(description='Attention pictures of a dcal_mm model')
    parser.add_argument('config', help='config file or model name')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--checkpoint', help='checkpoint file (random weights without)')
    parser.add_argument('--out-dir', default='vis_attention', help='folder for the PNGs')
    parser.add_argument('--scale', type=int, default=1, help='upscale factor of the panels (nearest)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def main():
    args = parse_args()
    model, pipeline = build_inference_model(args.config, args.checkpoint, args.device, args.cfg_options)
    os.makedirs(args.out_dir, exist_ok=True)
    for path in args.images:
        out = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '_attention.png')
        maps = save_attention_picture(model, pipeline, path, out, scale=args.scale)
        print(f'{path}: {", ".join(maps)} -> {out}')


if __name__ == '__main__':
    main()
