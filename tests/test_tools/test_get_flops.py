# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/get_flops.py counts the whole inference path (GLCA
included, fused attention too) and the training step."""
import os.path as osp
import re

from mmengine.config import Config

from dcal_mm.datasets import make_demo_cub

CONFIG = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs/dcal/demo_fgvc.py')

SA_ONLY = ['model.glca=None', 'model.pwca=None', 'model.head.with_glca=False', 'model.head.with_pwca=False',
           'model.head.predict_mode=sa', 'model.backbone.arch.conv_stem=None']  # a plain patch embedding


def _vit_flops(tokens, dim, depth, patch_pixels, num_classes):
    """Analytic FLOPs (2 per multiply-add) of a ViT's matmuls for one image."""
    block = 2 * tokens * dim * 3 * dim + 2 * 2 * tokens * tokens * dim + 2 * tokens * dim * dim \
        + 2 * 2 * tokens * dim * 4 * dim
    return depth * block + 2 * (tokens - 1) * patch_pixels * dim + 2 * dim * num_classes


def _run(run_tool, capsys, *args):
    run_tool(['tools/analysis_tools/get_flops.py', CONFIG, *args])
    found = re.findall(r'(inference|backbone only|training step).*?([0-9.]+) GFLOPs', capsys.readouterr().out)
    return {k: float(v) * 1e9 for k, v in found}


def test_get_flops_counts_glca_and_the_training_step(run_tool, capsys, tmp_path):
    # the demo: a 4-block ViT, width 96, patch 8 at 64x64 (64 patches + CLS), 10 classes
    sa = _run(run_tool, capsys, '--no-train', '--cfg-options', *SA_ONLY)
    expected = _vit_flops(65, 96, 4, 3 * 8 * 8, 10)
    assert abs(sa['inference'] - expected) <= 0.0001e9  # printed with 4 decimals in GFLOPs

    root = make_demo_cub(str(tmp_path / 'data'), num_classes=10, train_per_class=2, test_per_class=1)
    wrapped = 'dataset' in Config.fromfile(CONFIG).train_dataloader.dataset  # a pair wrapper around the train set
    key = 'train_dataloader.dataset.dataset.data_root' if wrapped else 'train_dataloader.dataset.data_root'
    dcal = _run(run_tool, capsys, '--cfg-options', f'{key}={root}')
    # GLCA's keys and values over all 65 tokens alone cost 2 x 65 x 64 x 128 FLOPs beyond the backbone
    assert dcal['inference'] - dcal['backbone only'] >= 2 * 65 * 64 * 128 - 0.0001e9
    assert dcal['training step'] > 3 * dcal['inference']  # forward + backward, plus the PWCA branch
