# Copyright (c) OpenMMLab. All rights reserved.
"""Write, for each image, a PNG of the attention-rollout heat map and of the patches GLCA selected.

Each PNG holds three panels at the model's input size: the test view of the image, the rollout CLS row over the
patches (jet colour map, blended), and the image with the GLCA query patches outlined.

Example:
    python tools/visualization/vis_rollout.py configs/dcal/demo_fgvc.py work_dirs/demo_fgvc/epoch_40.pth \\
        data/demo/CUB_200_2011/images/001.Bar_Crown/*.jpg --out-dir vis/
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
from mmengine.dataset import Compose, pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402

import dcal_mm  # noqa: E402,F401
from mmpretrain.registry import MODELS  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Visualise DCAL attention rollout and GLCA token selection')
    parser.add_argument('config', help='DCAL config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', default='vis_rollout', help='folder for the PNGs')
    parser.add_argument('--scale', type=int, default=1, help='upscale factor of the panels (nearest)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def build_model(cfg, checkpoint, device):
    model_cfg = cfg.model.to_dict()
    model_cfg['backbone'].pop('init_cfg', None)  # weights come from the checkpoint
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model_cfg)
    if getattr(model, 'glca', None) is None:
        raise ValueError(f'{cfg.filename}: the model has no GLCA branch, so there is no token selection to show')
    load_checkpoint(model, checkpoint, map_location='cpu')
    model.to(device)
    model.eval()
    return model


def rollout_and_selection(model, batch):
    """Rollout CLS row over the patches (H', W') and the selected patch mask (H', W')."""
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        backbone = model.backbone
        outs = backbone.forward_tokens(backbone.embed(data['inputs']), with_rollout=True)
        index = model.glca.select(outs[2])
    grid = backbone.patch_embed.grid_size
    heat = outs[2][0, 1:].reshape(grid).cpu().numpy()
    mask = np.zeros(grid[0] * grid[1], dtype=bool)
    selected = index[0].cpu().numpy()
    mask[selected[selected > 0] - 1] = True
    return heat, mask.reshape(grid), data['inputs'][0]


def render(view_bgr, heat, mask, scale):
    h, w = view_bgr.shape[:2]
    heat = (heat - heat.min()) / max(float(heat.max() - heat.min()), 1e-12)
    heat_img = cv2.applyColorMap((cv2.resize(heat, (w, h), interpolation=cv2.INTER_NEAREST) * 255).astype(np.uint8),
                                 cv2.COLORMAP_JET)
    blended = cv2.addWeighted(view_bgr, 0.5, heat_img, 0.5, 0)
    boxes = view_bgr.copy()
    ph, pw = h // mask.shape[0], w // mask.shape[1]
    for r, c in zip(*np.nonzero(mask)):
        cv2.rectangle(boxes, (c * pw, r * ph), ((c + 1) * pw - 1, (r + 1) * ph - 1), (0, 255, 0), 1)
    panel = np.concatenate([view_bgr, blended, boxes], axis=1)
    return cv2.resize(panel, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) if scale > 1 else panel


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = build_model(cfg, args.checkpoint, args.device)
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    os.makedirs(args.out_dir, exist_ok=True)
    for path in args.images:
        if cv2.imread(path) is None:
            raise ValueError(f'{path} is not a readable image')
        packed = pipeline(dict(img_path=path))
        heat, mask, _ = rollout_and_selection(model, pseudo_collate([packed]))
        view = packed['inputs'].permute(1, 2, 0).numpy().astype(np.uint8).copy()  # BGR test view
        out = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '_rollout.png')
        cv2.imwrite(out, render(view, heat, mask, args.scale))
        print(f'{path}: {int(mask.sum())} patches selected -> {out}')


if __name__ == '__main__':
    main()
