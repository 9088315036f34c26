# Copyright (c) OpenMMLab. All rights reserved.
import hashlib
import importlib.util
import os
import os.path as osp
import pickle
import runpy
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from torch import nn

SCRIPT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools', 'publish_model.py')


def _load_script():
    spec = importlib.util.spec_from_file_location('publish_model', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


publish_model = _load_script()


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))


def _training_checkpoint(path, prefix='', ema=False):
    """A checkpoint shaped like MMEngine's: pickled numpy and HistoryBuffer objects next to the weights."""
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 6, 6)).sum().backward()
    optimizer.step()  # fills the momentum buffers and moves the weights
    hub = MessageHub.get_instance('test_publish_model')
    hub.update_scalar('train/loss', 0.5)
    ckpt = dict(
        meta=dict(epoch=1, iter=3, seed=np.int64(0), dataset_meta=dict(classes=('a', 'b'))),
        state_dict={prefix + k: v for k, v in model.state_dict().items()},
        optimizer=optimizer.state_dict(),
        message_hub=hub.state_dict(),
        param_schedulers=[dict(last_epoch=np.int64(1), base_lrs=[0.1])],
    )
    if ema:
        ckpt['ema_state_dict'] = {'steps': torch.tensor(3)}
        ckpt['ema_state_dict'].update({'module.' + k: v + 1 for k, v in model.state_dict().items()})
    torch.save(ckpt, path)
    return model.state_dict()


def _sha8(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()[:8]


def test_publish_default_layout(tmp_path):
    src = str(tmp_path / 'epoch_1.pth')
    weights = _training_checkpoint(src)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(src, weights_only=True)  # the input really needs the trusted loader

    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    final = publish_model.publish(src, str(out_dir / 'demo.pth'))
    assert final == str(out_dir / f'demo-{_sha8(final)}.pth')
    assert os.listdir(out_dir) == [osp.basename(final)]  # no temporary file left

    published = torch.load(final, weights_only=True)
    assert list(published) == ['state_dict']
    assert list(published['state_dict']) == list(weights)
    for key, value in weights.items():
        assert torch.equal(published['state_dict'][key], value), key
    model = _model()
    model.load_state_dict(published['state_dict'], strict=True)
    x = torch.randn(1, 3, 6, 6)
    reference = _model()
    reference.load_state_dict(weights)
    assert torch.equal(model.eval()(x), reference.eval()(x))


def test_publish_flat_strips_ddp_prefix(tmp_path):
    src = str(tmp_path / 'ddp.pth')
    weights = _training_checkpoint(src, prefix='module.')
    final = publish_model.publish(src, str(tmp_path / 'flat'), flat=True)
    assert final == str(tmp_path / f'flat-{_sha8(final)}.pth')
    published = torch.load(final, weights_only=True)
    assert list(published) == list(weights)
    for key, value in weights.items():
        assert torch.equal(published[key], value), key


def test_publish_ema(tmp_path):
    src = str(tmp_path / 'ema.pth')
    weights = _training_checkpoint(src, ema=True)
    published = torch.load(publish_model.publish(src, str(tmp_path / 'ema.pth'), ema=True), weights_only=True)
    assert list(published['state_dict']) == list(weights)  # the EMA 'steps' counter is not a weight
    for key, value in weights.items():
        assert torch.equal(published['state_dict'][key], value + 1), key


def test_publish_bare_state_dict_input(tmp_path):
    src = str(tmp_path / 'bare.pth')
    weights = _model().state_dict()
    torch.save(weights, src)
    published = torch.load(publish_model.publish(src, str(tmp_path / 'bare_out.pth')), weights_only=True)
    for key, value in weights.items():
        assert torch.equal(published['state_dict'][key], value), key


def test_publish_errors(tmp_path):
    src = str(tmp_path / 'epoch_1.pth')
    _training_checkpoint(src)
    with pytest.raises(FileNotFoundError, match='output directory'):
        publish_model.publish(src, str(tmp_path / 'missing' / 'x.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        publish_model.publish(str(tmp_path / 'nope.pth'), str(tmp_path / 'x.pth'))
    with pytest.raises(KeyError, match='ema_state_dict'):
        publish_model.publish(src, str(tmp_path / 'x.pth'), ema=True)
    torch.save({'state_dict': {'w': torch.ones(1), 'step': 3}}, str(tmp_path / 'bad.pth'))
    with pytest.raises(ValueError, match="'step' is a int"):
        publish_model.publish(str(tmp_path / 'bad.pth'), str(tmp_path / 'x.pth'))
    torch.save({'state_dict': {}}, str(tmp_path / 'empty.pth'))
    with pytest.raises(ValueError, match='no model weights'):
        publish_model.publish(str(tmp_path / 'empty.pth'), str(tmp_path / 'x.pth'))


def test_cli(tmp_path, monkeypatch, capsys):
    src = str(tmp_path / 'epoch_1.pth')
    weights = _training_checkpoint(src)
    monkeypatch.setattr(sys, 'argv', [SCRIPT, src, str(tmp_path / 'cli.pth'), '--flat'])
    runpy.run_path(SCRIPT, run_name='__main__')
    printed = capsys.readouterr().out
    final = [f for f in os.listdir(tmp_path) if f.startswith('cli-')]
    assert len(final) == 1 and final[0] in printed
    published = torch.load(str(tmp_path / final[0]), weights_only=True)
    assert all(torch.equal(published[k], v) for k, v in weights.items())
