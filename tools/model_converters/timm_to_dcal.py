# Copyright (c) OpenMMLab. All rights reserved.
"""Convert a timm ViT checkpoint (.pth/.safetensors/.npz) to a DCALViT state dict.

The output is a plain tensor state dict (loads with ``torch.load(weights_only=True)``) whose keys are timm's, with the
classifier head dropped and ``pos_embed`` resampled to the target input size, so it loads directly through
``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` and needs no resampling at start-up. Converting is optional for
.pth/.safetensors files (DCALViT reads them as they are) and useful for JAX .npz files.

Example:
    python tools/model_converters/timm_to_dcal.py ViT-B_16.npz pretrained/vit-b_448.pth --arch vit-base --img-size 448
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from dcal_mm.models.backbones import DCALViT  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Convert a timm ViT checkpoint for DCALViT')
    parser.add_argument('src', help='timm checkpoint: .pth, .pt, .bin, .safetensors or .npz')
    parser.add_argument('dst', help='output .pth path')
    parser.add_argument('--arch', default='deit-tiny', help='DCALViT arch, e.g. deit-tiny, vit-base, r50-vit-base')
    parser.add_argument('--img-size', type=int, nargs='+', default=[448], help='input size: S or H W')
    parser.add_argument(
        '--pos-embed-interp',
        choices=('bicubic', 'linear'),
        default='bicubic',
        help='position-embedding resize: bicubic (timm, DCAL configs) or linear (official GLSim)')
    return parser.parse_args()


def main():
    args = parse_args()
    img_size = args.img_size[0] if len(args.img_size) == 1 else tuple(args.img_size)
    model = DCALViT(
        args.arch,
        img_size=img_size,
        pos_embed_interp=args.pos_embed_interp,
        init_cfg=dict(type='Pretrained', checkpoint=args.src))
    model.init_weights()  # reads, adapts and strictly checks the keys
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(model.state_dict(), args.dst)
    print(f'saved {len(model.state_dict())} tensors for {args.arch} at {img_size} to {args.dst}')


if __name__ == '__main__':
    main()
