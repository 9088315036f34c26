# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
import torchvision
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401
from dcal_mm.models.backbones import RGAResNet50
from dcal_mm.models.backbones.rga_resnet import rga_stage_sizes
from dcal_mm.models.layers import RGAChannel, RGAModule, RGASpatial


@pytest.fixture(scope='module', autouse=True)
def single_thread():
    # The ResNet-50 passes are tiny; on a shared 2-core machine OpenMP thread
    # hand-offs cost far more than the arithmetic, so run them on one thread.
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(num_threads)


def randomize_bn(module, seed=0):
    """Give every BN non-trivial statistics and affine parameters."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return module.eval()


def affine(conv, bn, v):
    """Eval-mode 1x1 conv + BN applied to one node vector v of shape (Cin, )."""
    w = conv.weight[:, :, 0, 0]
    return (w @ v - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias


def cbr(seq, v):
    return torch.relu(affine(seq[0], seq[1], v))


def head(seq, v):
    return affine(seq[3], seq[4], cbr(seq, v))


def reference_attention(module, nodes):
    """Attention logits+sigmoid from per-node vectors, written node by node.

    ``nodes`` has shape (num_nodes, dim): positions (dim C) for RGA-S,
    channels (dim N) for RGA-C.
    """
    q = torch.stack([cbr(module.theta, v) for v in nodes])
    k = torch.stack([cbr(module.phi, v) for v in nodes])
    rel = q @ k.t()
    out = []
    for i, v in enumerate(nodes):
        own = cbr(module.gx, v).mean()
        related = cbr(module.gg, torch.cat([rel[i, :], rel[:, i]]))
        out.append(torch.sigmoid(head(module.W, torch.cat([own[None], related]))))
    return rel, torch.cat(out)


def test_spatial_relation_and_attention_match_reference():
    torch.manual_seed(0)
    module = randomize_bn(RGASpatial(16, (4, 3), cha_ratio=4, spa_ratio=2, down_ratio=2))
    x = torch.randn(2, 16, 4, 3)
    with torch.no_grad():
        rel = module.relation(x)
        att = module.attention(x)
        out = module(x)
    assert rel.shape == (2, 12, 12)
    assert att.shape == (2, 1, 4, 3)
    for b in range(2):
        positions = x[b].flatten(1).t()  # (N, C), row-major positions
        ref_rel, ref_att = reference_attention(module, positions)
        torch.testing.assert_close(rel[b], ref_rel)
        torch.testing.assert_close(att[b].flatten(), ref_att)
    # One weight per position, shared by all channels.
    torch.testing.assert_close(out, att * x)
    assert not torch.allclose(att, att.mean())


def test_channel_relation_and_attention_match_reference():
    torch.manual_seed(1)
    module = randomize_bn(RGAChannel(16, (4, 3), cha_ratio=2, spa_ratio=4, down_ratio=2))
    x = torch.randn(2, 16, 4, 3)
    with torch.no_grad():
        rel = module.relation(x)
        att = module.attention(x)
        out = module(x)
    assert rel.shape == (2, 16, 16)
    assert att.shape == (2, 16, 1, 1)
    for b in range(2):
        channels = x[b].flatten(1)  # (C, N)
        ref_rel, ref_att = reference_attention(module, channels)
        torch.testing.assert_close(rel[b], ref_rel)
        torch.testing.assert_close(att[b].flatten(), ref_att)
    torch.testing.assert_close(out, att * x)
    assert not torch.allclose(att, att.mean())


def test_rgasc_is_spatial_then_channel():
    torch.manual_seed(2)
    module = randomize_bn(RGAModule(16, (4, 3), cha_ratio=4, spa_ratio=2, down_ratio=2))
    x = torch.randn(2, 16, 4, 3)
    with torch.no_grad():
        torch.testing.assert_close(module(x), module.channel(module.spatial(x)))
    assert RGAModule(16, (4, 3), use_channel=False).channel is None
    assert RGAModule(16, (4, 3), use_spatial=False).spatial is None
    with pytest.raises(ValueError, match='at least one'):
        RGAModule(16, (4, 3), use_spatial=False, use_channel=False)


def test_module_size_check():
    module = RGAModule(16, (4, 3))
    with pytest.raises(ValueError, match='built for 4x3 feature maps, got 4x4'):
        module(torch.randn(1, 16, 4, 4))
    with pytest.raises(ValueError, match='built for 16 channels, got 8'):
        module(torch.randn(1, 8, 4, 3))
    with pytest.raises(ValueError, match=r'expects a \(B, C, H, W\) feature map, got \(16, 4, 3\)'):
        module(torch.randn(16, 4, 3))
    with pytest.raises(ValueError, match='RGAChannel was built for 4x3 feature maps, got 3x4'):
        module.channel(torch.randn(1, 16, 3, 4))


def test_official_sizes_and_parameter_count():
    assert rga_stage_sizes(256, 128) == [(64, 32), (32, 16), (16, 8), (16, 8)]
    assert rga_stage_sizes(256, 128, last_stride=2)[-1] == (8, 4)
    assert rga_stage_sizes(64, 32) == [(16, 8), (8, 4), (4, 2), (4, 2)]
    # Conv weights of RGA-SC x4 at 256x128, counted from the official layer
    # list (ratios 8); about 6.3M (3.2M spatial + 3.1M channel).
    expected = {'spatial': 0, 'channel': 0}
    for c, (h, w) in zip((256, 512, 1024, 2048), rga_stage_sizes(256, 128)):
        n = h * w
        hs, hc = 1 + n // 8, 1 + c // 8
        expected['spatial'] += 3 * c * (c // 8) + 2 * n * (n // 8) + hs * (hs // 8) + hs // 8
        expected['channel'] += 3 * n * (n // 8) + 2 * c * (c // 8) + hc * (hc // 8) + hc // 8
    counted = {'spatial': 0, 'channel': 0}
    for c, size in zip((256, 512, 1024, 2048), rga_stage_sizes(256, 128)):
        module = RGAModule(c, size)
        for name in counted:
            counted[name] += sum(p.numel() for p in getattr(module, name).parameters() if p.dim() == 4)
    assert counted == expected
    assert sum(counted.values()) == pytest.approx(6.3e6, rel=0.01)


@pytest.fixture(scope='module')
def backbone():
    torch.manual_seed(0)
    return MODELS.build(dict(type='RGAResNet50', height=64, width=32))


def test_backbone_forward_and_gradients(backbone):
    backbone.train()
    assert backbone.resnet.layer4[0].conv2.stride == (1, 1)
    assert backbone.resnet.layer4[0].downsample[0].stride == (1, 1)
    assert [m.spatial.spatial_size for m in backbone.rga_modules] == [(16, 8), (8, 4), (4, 2), (4, 2)]
    x = torch.randn(2, 3, 64, 32, requires_grad=True)
    out = backbone(x)
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == (2, 2048)
    out[0].pow(2).sum().backward()
    assert x.grad.abs().sum() > 0
    assert backbone.resnet.conv1.weight.grad.abs().sum() > 0
    for module in backbone.rga_modules:
        for branch in (module.spatial, module.channel):
            assert branch.theta[0].weight.grad.abs().sum() > 0
            assert branch.W[3].weight.grad.abs().sum() > 0
    backbone.zero_grad()


def test_backbone_input_size_check(backbone):
    with pytest.raises(ValueError, match='built for 64x32 inputs .* got 32x32'):
        backbone(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match='branch'):
        RGAResNet50(64, 32, branch='rga')


def test_pretrained_torchvision_state_dict(tmp_path):
    torchvision_state = torchvision.models.resnet50().state_dict()  # same layout as resnet50-19c8e357.pth
    path = tmp_path / 'resnet50.pth'
    torch.save(torchvision_state, path)
    model = RGAResNet50(64, 32, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    rga_before = model.rga_modules[0].spatial.theta[0].weight.clone()
    model.init_weights()
    own = model.resnet.state_dict()
    assert 'fc.weight' in torchvision_state and 'fc.weight' not in own
    for key, value in own.items():
        torch.testing.assert_close(value, torchvision_state[key])
    # RGA modules keep their (PyTorch default) initialisation.
    torch.testing.assert_close(model.rga_modules[0].spatial.theta[0].weight, rga_before)
    with pytest.raises(FileNotFoundError):
        model.load_resnet_weights(str(tmp_path / 'absent.pth'))


def test_pretrained_key_handling(backbone, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    contents = {}
    monkeypatch.setattr(CheckpointLoader, 'load_checkpoint', lambda filename, map_location=None: contents[filename])
    source = {k: v + 1 for k, v in backbone.resnet.state_dict().items() if not k.endswith('num_batches_tracked')}
    model = RGAResNet50(64, 32)

    # Wrapped in 'state_dict' with a prefix, as in an MMEngine checkpoint.
    contents['wrapped'] = {'meta': {}, 'state_dict': {f'backbone.resnet.{k}': v for k, v in source.items()}}
    model.load_resnet_weights('wrapped', prefix='backbone.resnet.')
    torch.testing.assert_close(model.resnet.layer3[2].conv2.weight, source['layer3.2.conv2.weight'])
    with pytest.raises(ValueError, match="no key of wrapped starts with prefix 'head.'"):
        model.load_resnet_weights('wrapped', prefix='head.')

    bad = dict(source)
    bad['layer1.0.conv9.weight'] = bad.pop('layer1.0.conv1.weight')
    bad['layer2.0.bn1.bias'] = torch.zeros(3)
    contents['bad'] = bad
    model = RGAResNet50(64, 32, init_cfg=dict(type='Pretrained', checkpoint='bad'))
    with pytest.raises(ValueError, match=r'bad is not a torchvision/timm ResNet-50 state dict: missing 1: '
                       r'layer1\.0\.conv1\.weight; unexpected 1: layer1\.0\.conv9\.weight; shape mismatch 1: '
                       r'layer2\.0\.bn1\.bias \(3,\) vs \(128,\)'):
        model.init_weights()
