# Copyright (c) OpenMMLab. All rights reserved.
"""Attention pictures of any dcal_mm model, one PNG per image: the model's view of the image, then one panel per map
the model has - the attention rollout (any ViT: DCAL, its SA baseline, GLSim), the patches GLCA selects (green),
GLSim's crop box (yellow), RGA's spatial attention after each stage, CLAN's cross-layer spatial maps. Heat maps use
the jet colour map blended with the view. See dcal_mm.visualization.attention_maps.

Example:
    python tools/visualization/vis_attention.py configs/glsim/glsim_demo.py work_dirs/glsim_demo/epoch_30.pth \\
        data/demo/CUB_200_2011/images/001*/*.jpg --out-dir vis/

CONFIG CHECKPOINT are positional, as in MMPretrain's tools (``none`` as CHECKPOINT: random weights). The old
``CONFIG IMAGES... --checkpoint CKPT`` still works for one release and prints a deprecation message. Without
``--out-dir`` the PNGs go to ``work_dirs/<config stem>/vis_attention``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

import dcal_mm  # noqa: E402,F401
from dcal_mm.apis import build_inference_model  # noqa: E402
from dcal_mm.utils.cli import (add_checkpoint_args, checkpoint_or_none, default_out_dir, looks_like_image,  # noqa: E402
                               warn_deprecated)
from dcal_mm.visualization import load_view, save_attention_picture, top_class  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Attention pictures of a dcal_mm model')
    parser.add_argument('config', help='config file or model name')
    add_checkpoint_args(parser, 'CONFIG CHECKPOINT IMAGES...', 'second', required=True)
    parser.add_argument('images', nargs='*', help='image files')
    parser.add_argument('--out-dir', help='folder for the PNGs (default: work_dirs/<config stem>/vis_attention)')
    parser.add_argument('--scale', type=int, default=1, help='extra upscale factor of the panels (nearest), on top '
                        'of the one that makes the short side at least 256 px')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args(argv)
    if args.old_checkpoint is not None:  # old spelling: CONFIG IMAGES... --checkpoint CKPT
        args.images.insert(0, args.checkpoint)
        args.checkpoint = args.old_checkpoint
    elif looks_like_image(args.checkpoint):  # old spelling without a checkpoint: CONFIG IMAGES...
        warn_deprecated(f'CONFIG IMAGES... without a checkpoint ({args.checkpoint} is an image)',
                        'CONFIG none IMAGES... for random weights')
        args.images.insert(0, args.checkpoint)
        args.checkpoint = None
    args.checkpoint = checkpoint_or_none(args.checkpoint)
    if not args.images:
        parser.error('the following arguments are required: images')
    if args.out_dir is None:
        args.out_dir = default_out_dir(args.config, 'vis_attention')
    return args


def prediction_title(model, pipeline, path):
    """``class name: score`` of the top class for a classifier (models
    whose ``predict`` sets ``pred_score``: FGVC), else None (Re-ID)."""
    import torch
    inputs, _ = load_view(model, pipeline, path)
    with torch.no_grad():
        sample = model.predict(inputs.to(next(model.parameters()).device))[0]
    top = top_class(model, sample)
    return None if top is None else f'{top[0]} (label {top[1]}): {top[2]:.3f}'


def main():
    args = parse_args()
    model, pipeline = build_inference_model(args.config, args.checkpoint, args.device, args.cfg_options)
    os.makedirs(args.out_dir, exist_ok=True)
    for path in args.images:
        out = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '_attention.png')
        title = prediction_title(model, pipeline, path)
        maps = save_attention_picture(model, pipeline, path, out, scale=args.scale, title=title)
        print(f'{path}: {", ".join(maps)} -> {out}')


if __name__ == '__main__':
    main()
