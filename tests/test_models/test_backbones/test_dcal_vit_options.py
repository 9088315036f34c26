# Copyright (c) OpenMMLab. All rights reserved.
"""DCALViT options for official recipes: uniform stochastic depth and linear
position-embedding resize (GLSim)."""
import pytest
import torch

import dcal_mm  # noqa: F401
from dcal_mm.models.backbones import DCALViT
from dcal_mm.models.utils.timm_checkpoint import resample_pos_embed

TINY = dict(embed_dims=32, num_layers=4, num_heads=2, patch_size=8)


def _rates(model):
    return [getattr(blk.drop_path1, 'drop_prob', 0.) for blk in model.blocks]


def test_drop_path_mode():
    assert _rates(DCALViT(TINY, img_size=32, drop_path_rate=0.1, drop_path_mode='uniform')) == [0.1] * 4
    linear = _rates(DCALViT(TINY, img_size=32, drop_path_rate=0.1))
    assert linear[0] == 0 and linear[-1] == pytest.approx(0.1) and linear == sorted(linear)
    with pytest.raises(ValueError, match='drop_path_mode'):
        DCALViT(TINY, img_size=32, drop_path_mode='exponential')


def test_linear_pos_embed_is_scipy_zoom_order_1():
    ndimage = pytest.importorskip('scipy.ndimage')
    pos = torch.randn(1, 1 + 14 * 14, 6)
    ours = resample_pos_embed(pos, (28, 28), 1, 'linear')
    grid = pos[0, 1:].reshape(14, 14, 6).numpy()
    ref = ndimage.zoom(grid, (28 / 14, 28 / 14, 1), order=1)
    assert torch.equal(ours[:, :1], pos[:, :1])
    torch.testing.assert_close(ours[0, 1:].reshape(28, 28, 6), torch.from_numpy(ref), atol=1e-5, rtol=0)
    bicubic = resample_pos_embed(pos, (28, 28), 1, 'bicubic')
    assert (bicubic - ours).abs().max() > 1e-2  # the two rules differ
    with pytest.raises(ValueError, match='interpolation'):
        resample_pos_embed(pos, (28, 28), 1, 'nearest')


def test_pretrained_load_uses_pos_embed_interp(tmp_path):
    src = DCALViT(TINY, img_size=16)  # 2x2 patch grid
    path = str(tmp_path / 'src.pth')
    torch.save(src.state_dict(), path)
    for interp in ('linear', 'bicubic'):
        model = DCALViT(TINY, img_size=32, pos_embed_interp=interp, init_cfg=dict(type='Pretrained', checkpoint=path))
        model.init_weights()
        assert torch.equal(model.pos_embed, resample_pos_embed(src.pos_embed.detach(), (4, 4), 1, interp))
