# Copyright (c) OpenMMLab. All rights reserved.
"""Save what a config's dataloader feeds the model: each sample's transformed image(s) after the pipeline, with its
label (and camera for Re-ID) below. Samples whose ``inputs`` hold several images (a pair dataset's target and
partner) are drawn side by side. Uses OpenCV only (MMPretrain's browse_dataset needs a pipeline on the dataset object
and a matplotlib API that recent matplotlib changed).

Example:
    python tools/visualization/browse_dataset.py configs/dcal/demo_reid.py --output-dir browse/ --phase train -n 8
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmpretrain.registry import DATASETS  # noqa: E402

import dcal_mm  # noqa: E402,F401
from dcal_mm.utils.cli import DeprecatedOption  # noqa: E402

CAPTION = 14


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Save transformed dataset samples')
    parser.add_argument('config', help='config file')
    parser.add_argument('-o', '--output-dir', help='folder for the PNGs (required; as MMPretrain\'s browse_dataset)')
    parser.add_argument(
        '--out-dir', dest='output_dir', action=DeprecatedOption, new='--output-dir', help='deprecated: --output-dir')
    parser.add_argument('--phase', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('-n', '--num', type=int, default=10, help='samples to save (from the start)')
    parser.add_argument('--scale', type=int, default=2, help='upscale factor (nearest)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args(argv)
    if args.output_dir is None:
        parser.error('the following arguments are required: -o/--output-dir')
    return args


def to_views(inputs):
    """The sample's images as BGR uint8 arrays (H, W, 3)."""
    images = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
    return [img.permute(1, 2, 0).numpy().astype(np.uint8).copy() for img in images]


def caption(data_sample) -> str:
    """Label, camera and query flag of a packed sample."""
    parts = []
    if 'gt_label' in data_sample:
        parts.append(f'label {int(data_sample.gt_label.reshape(-1)[0])}')
    for key in ('cam_id', 'is_query', 'partner_label'):
        if key in data_sample:
            value = data_sample.get(key)
            parts.append(f'{key} {int(value.reshape(-1)[0]) if isinstance(value, torch.Tensor) else int(value)}')
    return ', '.join(parts)


def render(views, text, scale):
    h = max(v.shape[0] for v in views)
    row = np.concatenate([cv2.copyMakeBorder(v, 0, h - v.shape[0], 0, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
                          for v in views], axis=1)
    row = cv2.resize(row, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    canvas = np.full((row.shape[0] + CAPTION, max(row.shape[1], 8 * len(text)), 3), 255, np.uint8)
    canvas[:row.shape[0], :row.shape[1]] = row
    cv2.putText(canvas, text, (2, canvas.shape[0] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = DATASETS.build(cfg[f'{args.phase}_dataloader'].dataset)
    os.makedirs(args.output_dir, exist_ok=True)
    for i in range(min(args.num, len(dataset))):
        sample = dataset[i]
        text = caption(sample['data_samples'])
        out = osp.join(args.output_dir, f'{args.phase}_{i:05d}.png')
        cv2.imwrite(out, render(to_views(sample['inputs']), text, args.scale))
        print(f'{i}: {len(to_views(sample["inputs"]))} image(s), {text} -> {out}')


if __name__ == '__main__':
    main()
