# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import timm
import torch
from safetensors.torch import save_file

from dcal_mm.models.backbones import DCALViT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_timm_to_dcal_writes_a_weights_only_state_dict(tmp_path):
    torch.manual_seed(0)
    src = timm.create_model('deit_tiny_patch16_224', pretrained=False, num_classes=5)
    save_file(src.state_dict(), str(tmp_path / 'deit.safetensors'))
    out = tmp_path / 'deit_64x32.pth'
    subprocess.run([sys.executable, osp.join(ROOT, 'tools/model_converters/timm_to_dcal.py'),
                    str(tmp_path / 'deit.safetensors'), str(out), '--arch', 'deit-tiny', '--img-size', '64', '32'],
                   check=True, capture_output=True)
    state = torch.load(out, weights_only=True)
    assert state['pos_embed'].shape == (1, 1 + 4 * 2, 192) and not any(k.startswith('head') for k in state)
    direct = DCALViT('deit-tiny', img_size=(64, 32),
                     init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'deit.safetensors')))
    direct.init_weights()
    for k, v in direct.state_dict().items():
        torch.testing.assert_close(state[k], v)


def test_vis_rollout_marks_the_glca_queries(tmp_path):
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs/dcal/demo_fgvc.py'))
    model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    img = str(tmp_path / 'bird.jpg')
    cv2.imwrite(img, np.random.default_rng(0).integers(0, 255, (80, 90, 3), dtype=np.uint8))
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools/visualization/vis_rollout.py'),
                           osp.join(ROOT, 'configs/dcal/demo_fgvc.py'), ckpt, img, '--out-dir', str(tmp_path / 'vis')],
                          check=True, capture_output=True, text=True)
    grid = 64 // 8
    expected = model.glca.num_selected(grid * grid)
    assert f'{expected} patches selected' in proc.stdout
    panel = cv2.imread(str(tmp_path / 'vis' / 'bird_rollout.png'))
    assert panel.shape == (64, 3 * 64, 3)
    # the third panel differs from the first exactly where query patches are outlined
    outlined = (panel[:, 128:] != panel[:, :64]).any(-1)
    assert outlined.any() and outlined.reshape(grid, 8, grid, 8).any(axis=(1, 3)).sum() == expected
