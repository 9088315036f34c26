# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401
from dcal_mm.models.layers import CrossLayerContextAttention, CrossLayerSpatialAttention
from dcal_mm.models.necks import CLANNeck


def randomize_bn(module, seed=0):
    """Give every BN non-trivial statistics and affine parameters, eval mode."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return module.eval()


def conv1x1(conv, x):
    """A 1x1 conv on (B, C, H, W) written as a matrix product."""
    return torch.einsum('oc,bchw->bohw', conv.weight[:, :, 0, 0], x) + conv.bias[None, :, None, None]


def reference_clca(m, mid, top, normalize='softmax', use_scale=True):
    """CLCA in the figure's order: Up first, then W_g; explicit affinity."""
    h, w = mid.shape[-2:]
    up = F.interpolate(top, size=(h, w), mode='bilinear', align_corners=False)
    z = conv1x1(m.top_proj, up) + conv1x1(m.mid_proj, mid)
    q = conv1x1(m.query, z).flatten(2)  # (B, C', N)
    k = conv1x1(m.key, z).flatten(2)
    v = conv1x1(m.value, mid).flatten(2)
    aff = torch.einsum('bci,bcj->bij', q, k)
    if normalize == 'softmax':
        if use_scale:
            aff = aff / q.shape[1]**0.5
        aff = aff.softmax(dim=-1)
    else:
        aff = aff / aff.shape[-1]
    o = torch.einsum('bij,bcj->bci', aff, v).reshape(mid.shape[0], -1, h, w)
    y = conv1x1(m.out_proj, o)
    bn = m.out_norm
    y = (y - bn.running_mean[None, :, None, None]) / torch.sqrt(bn.running_var[None, :, None, None] + bn.eps)
    return mid + y * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]


@pytest.mark.parametrize('normalize,use_scale', [('softmax', True), ('softmax', False), ('mean', True)])
def test_clca_matches_reference(normalize, use_scale):
    torch.manual_seed(0)
    m = randomize_bn(CrossLayerContextAttention(8, 12, 6, normalize=normalize, use_scale=use_scale, zero_init=False))
    mid, top = torch.randn(2, 8, 6, 6), torch.randn(2, 12, 3, 3)
    out = m(mid, top)
    assert out.shape == mid.shape
    torch.testing.assert_close(out, reference_clca(m, mid, top, normalize, use_scale), rtol=1e-4, atol=1e-5)


def test_clca_guidance_from_top_changes_output():
    torch.manual_seed(0)
    m = randomize_bn(CrossLayerContextAttention(8, 12, zero_init=False))
    assert m.inter_channels == 4  # default C' = C_s // 2
    mid, top = torch.randn(2, 8, 6, 6), torch.randn(2, 12, 3, 3)
    assert not torch.allclose(m(mid, top), m(mid, torch.randn_like(top)))


def test_clca_zero_init_is_identity_and_trainable():
    torch.manual_seed(0)
    m = CrossLayerContextAttention(8, 12).train()
    assert torch.all(m.out_norm.weight == 0)
    mid, top = torch.randn(2, 8, 6, 6, requires_grad=True), torch.randn(2, 12, 3, 3)
    out = m(mid, top)
    torch.testing.assert_close(out, mid, rtol=0, atol=0)
    (out * torch.randn_like(out)).sum().backward()
    assert m.out_norm.weight.grad.abs().sum() > 0  # the gate can open


def test_clca_bad_args():
    with pytest.raises(ValueError, match='normalize'):
        CrossLayerContextAttention(8, 12, normalize='l2')
    with pytest.raises(ValueError, match='upsample_mode'):
        CrossLayerContextAttention(8, 12, upsample_mode='area')


def test_clsa_map_in_unit_interval_and_multiplicative():
    torch.manual_seed(0)
    m = CrossLayerSpatialAttention()
    mid, top = torch.randn(2, 8, 8, 8) * 5, torch.randn(2, 12, 2, 2)
    amap = m.spatial_map(mid, top.shape[-2:])
    assert amap.shape == (2, 1, 2, 2)
    assert amap.min() >= 0 and amap.max() <= 1
    # Reference: sigmoid(conv([max_c; mean_c])) then 4x4 average pooling to 2x2.
    pooled = torch.cat([mid.max(1, keepdim=True)[0], mid.mean(1, keepdim=True)], 1)
    full = torch.sigmoid(F.conv2d(pooled, m.conv.weight, m.conv.bias, padding=3))
    torch.testing.assert_close(amap, F.avg_pool2d(full, 4))
    torch.testing.assert_close(m(mid, top), top * amap)
    m.residual = True
    torch.testing.assert_close(m(mid, top), top * (1 + amap))


@pytest.mark.parametrize('mode', ['max', 'bilinear'])
def test_clsa_other_downsampling_stays_in_unit_interval(mode):
    torch.manual_seed(0)
    m = CrossLayerSpatialAttention(kernel_size=3, downsample=mode)
    mid = torch.randn(2, 8, 8, 8) * 5
    amap = m.spatial_map(mid, (3, 3))
    assert amap.shape == (2, 1, 3, 3) and amap.min() >= 0 and amap.max() <= 1
    if mode == 'max':
        full = torch.sigmoid(m.conv(torch.cat([mid.amax(1, keepdim=True), mid.mean(1, keepdim=True)], 1)))
        assert torch.isclose(amap.amax(), full.amax())


def test_clsa_bad_args():
    with pytest.raises(ValueError, match='odd'):
        CrossLayerSpatialAttention(kernel_size=4)
    with pytest.raises(ValueError, match='downsample'):
        CrossLayerSpatialAttention(downsample='nearest')


def make_inputs(batch=2):
    torch.manual_seed(0)
    return [torch.randn(batch, 8, 8, 8), torch.randn(batch, 16, 4, 4), torch.randn(batch, 24, 2, 2)]


def test_neck_branches_follow_the_paper_order():
    neck = CLANNeck((8, 16, 24), clca_zero_init=False).eval()
    randomize_bn(neck)
    feats = make_inputs()
    maps = neck.forward_maps(feats)
    assert len(maps) == 4
    # Refined mid levels: CLCA of each level with the top map.
    for i in range(2):
        torch.testing.assert_close(maps[i], neck.clca[i](feats[i], feats[2]))
    # Plain top map, then CLSA-refined top maps concatenated.
    torch.testing.assert_close(maps[2], feats[2], rtol=0, atol=0)
    expected_fused = torch.cat([neck.clsa[i](maps[i], feats[2]) for i in range(2)], dim=1)
    torch.testing.assert_close(maps[3], expected_fused)
    outs = neck(feats)
    assert neck.out_channels == (8, 16, 24, 48)
    assert [o.shape for o in outs] == [torch.Size([2, c]) for c in neck.out_channels]
    for o, m in zip(outs, maps):
        torch.testing.assert_close(o, m.mean(dim=(2, 3)))


def test_neck_zero_init_keeps_mid_levels_and_fusion_modes():
    feats = make_inputs()
    neck_sum = CLANNeck((8, 16, 24), fuse='sum', pool='max')
    neck_mean = CLANNeck((8, 16, 24), fuse='mean')
    neck_mean.load_state_dict(neck_sum.state_dict())
    maps = neck_sum.forward_maps(feats)
    torch.testing.assert_close(maps[0], feats[0], rtol=0, atol=0)
    torch.testing.assert_close(maps[1], feats[1], rtol=0, atol=0)
    expected = neck_sum.clsa[0](feats[0], feats[2]) + neck_sum.clsa[1](feats[1], feats[2])
    torch.testing.assert_close(maps[3], expected)
    torch.testing.assert_close(neck_mean.forward_maps(feats)[3], expected / 2)
    assert neck_sum.out_channels == (8, 16, 24, 24)
    torch.testing.assert_close(neck_sum(feats)[3], expected.amax(dim=(2, 3)))


def test_neck_builds_from_registry_and_checks_inputs():
    neck = MODELS.build(dict(type='CLANNeck', in_channels=(8, 16, 24), clca_reduction=4, clsa_kernel_size=3))
    assert neck.clca[1].inter_channels == 4 and neck.clsa[0].conv.kernel_size == (3, 3)
    with pytest.raises(ValueError, match='expects 3 maps'):
        neck(make_inputs()[1:])
    with pytest.raises(ValueError, match='fuse'):
        CLANNeck((8, 16, 24), fuse='max')
    with pytest.raises(ValueError, match='at least one mid level'):
        CLANNeck((24, ))
