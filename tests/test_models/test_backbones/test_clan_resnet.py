# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
import torchvision
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401
from dcal_mm.models.backbones import CLANResNet


def torchvision_stages(tv, x):
    x = tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))
    outs = []
    for layer in (tv.layer1, tv.layer2, tv.layer3, tv.layer4):
        x = layer(x)
        outs.append(x)
    return outs


@pytest.fixture(scope='module')
def torchvision_resnet18():
    torch.manual_seed(0)
    tv = torchvision.models.resnet18().eval()
    # Non-trivial BN statistics so that a wrong mapping shows.
    for m in tv.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    return tv


def test_outputs_match_torchvision_after_loading(torchvision_resnet18, tmp_path):
    tv = torchvision_resnet18
    # An old-style torchvision file: no num_batches_tracked, classifier included,
    # saved from DataParallel inside a 'state_dict' wrapper.
    state = {f'module.{k}': v for k, v in tv.state_dict().items() if not k.endswith('num_batches_tracked')}
    path = tmp_path / 'resnet18.pth'
    torch.save({'state_dict': state}, path)
    model = MODELS.build(
        dict(type='CLANResNet', arch='resnet18', init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    model.init_weights()
    assert model.pretrained_loaded
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        outs = model(x)
        ref = torchvision_stages(tv, x)
    assert model.out_channels == (128, 256, 512)
    assert [o.shape for o in outs] == [(2, 128, 4, 4), (2, 256, 2, 2), (2, 512, 1, 1)]
    for o, r in zip(outs, ref[1:]):
        torch.testing.assert_close(o, r)


def test_prefix_and_fewer_stages(torchvision_resnet18, tmp_path):
    path = tmp_path / 'whole_model.pth'
    state = {f'backbone.{k}': v for k, v in torchvision_resnet18.state_dict().items()}
    state['head.fc.weight'] = torch.ones(1)
    torch.save(state, path)
    model = CLANResNet(
        'resnet18', out_indices=(0, 2), init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    model.init_weights()
    assert not hasattr(model, 'layer4')
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        outs = model(x)
        ref = torchvision_stages(torchvision_resnet18, x)
    assert len(outs) == 2
    torch.testing.assert_close(outs[0], ref[0])
    torch.testing.assert_close(outs[1], ref[2])


def test_mismatched_checkpoint_lists_keys(torchvision_resnet18, tmp_path):
    state = dict(torchvision_resnet18.state_dict())
    state.pop('bn1.weight')
    state['layer1.5.conv1.weight'] = torch.zeros(1)
    state['conv1.weight'] = torch.zeros(64, 3, 3, 3)
    path = tmp_path / 'bad.pth'
    torch.save(state, path)
    model = CLANResNet('resnet18', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError) as err:
        model.init_weights()
    msg = str(err.value)
    assert "missing keys ['bn1.weight']" in msg
    assert "unexpected keys ['layer1.5.conv1.weight']" in msg
    assert 'conv1.weight: checkpoint (64, 3, 3, 3) vs model (64, 3, 7, 7)' in msg
    model = CLANResNet('resnet18', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'none.pth')))
    with pytest.raises(FileNotFoundError, match='none.pth'):
        model.init_weights()


def test_bad_arguments():
    with pytest.raises(ValueError, match='timm ResNet name'):
        CLANResNet('vit_base_patch16_224')
    with pytest.raises(ValueError, match='out_indices'):
        CLANResNet('resnet18', out_indices=(3, 2))
    with pytest.raises(ValueError, match='out_indices'):
        CLANResNet('resnet18', out_indices=(4, ))
