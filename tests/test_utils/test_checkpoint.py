# Copyright (c) OpenMMLab. All rights reserved.
"""A checkpoint that does not fit the model is refused by MMPretrain's
init_model / get_model / inferencers and mmengine.runner.load_checkpoint
(patched by dcal_mm); a partial load must be asked for."""
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS
from mmpretrain.utils import register_all_modules

import dcal_mm  # noqa: F401  (installs the checked loader)
from dcal_mm.utils import CheckpointMismatchError, allow_partial_load, check_state_dict

register_all_modules()


def _model_cfg(num_classes):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=64))


@pytest.fixture
def ckpt_10(tmp_path):
    """A checkpoint of the 10-class model, as tools/train.py saves them."""
    path = str(tmp_path / 'ten.pth')
    torch.save({'meta': {}, 'state_dict': MODELS.build(_model_cfg(10)).state_dict()}, path)
    return path


def _logger(tmp_path):
    """A fresh MMEngine logger (the 'current' one from now on) writing to a file."""
    path = tmp_path / 'log.txt'
    MMLogger.get_instance(f'test_checkpoint_{id(path)}', log_file=str(path))
    return path


def test_check_state_dict_one_line_counts_and_first_keys():
    model = MODELS.build(_model_cfg(10))
    state = dict(model.state_dict())
    state.pop('head.fc.bias')
    for i in range(5):
        state[f'extra.{i}'] = torch.zeros(1)
    state['head.fc.weight'] = torch.zeros(7, 64)
    with pytest.raises(CheckpointMismatchError) as err:
        check_state_dict(model, state, 'x.pth')
    msg = str(err.value)
    assert '\n' not in msg and 'x.pth' in msg and 'ImageClassifier' in msg
    assert '1 missing (head.fc.bias)' in msg
    assert '5 unexpected (extra.0, extra.1, extra.2, ...)' in msg
    assert '1 mis-shaped, checkpoint vs model (head.fc.weight (7, 64) vs (10, 64))' in msg
    assert '--allow-partial-load' in msg
    summary = check_state_dict(model, state, 'x.pth', allow_partial=True)
    assert summary['loaded'] == len(model.state_dict()) - 2


def test_init_model_and_inferencer_refuse_another_models_checkpoint(ckpt_10, tmp_path):
    from mmpretrain.apis import ImageClassificationInferencer, init_model
    other = Config(dict(model=_model_cfg(5)))
    expected = r'0 missing, 0 unexpected, 2 mis-shaped, checkpoint vs model \(head\.fc\.weight \(10, 64\) vs \(5, 64\)'
    with pytest.raises(CheckpointMismatchError, match=expected):
        init_model(other, ckpt_10)
    with pytest.raises(CheckpointMismatchError):
        ImageClassificationInferencer(other, pretrained=ckpt_10)
    with pytest.raises(CheckpointMismatchError):  # a model instance goes through mmpretrain.apis.base
        ImageClassificationInferencer(MODELS.build(_model_cfg(5)), pretrained=ckpt_10)

    # asked for: partial loads, logged with the path and what was loaded
    log = _logger(tmp_path)
    with allow_partial_load():
        model = init_model(other, ckpt_10)
    assert torch.equal(model.state_dict()['backbone.conv1.weight'],
                       torch.load(ckpt_10)['state_dict']['backbone.conv1.weight'])
    assert f'checkpoint {ckpt_10}: partial load (allowed) of' in log.read_text()

    # a matching checkpoint loads and says so
    init_model(Config(dict(model=_model_cfg(10))), ckpt_10)
    assert f'checkpoint {ckpt_10}: loaded all' in log.read_text()


def test_load_checkpoint_strict_false_is_an_explicit_partial_load(ckpt_10):
    from mmengine.runner import load_checkpoint
    model = MODELS.build(_model_cfg(5))
    with pytest.raises(CheckpointMismatchError):
        load_checkpoint(model, ckpt_10)
    load_checkpoint(model, ckpt_10, strict=False)  # the caller chose a partial load


def test_pretrained_init_cfg_is_not_affected(ckpt_10):
    """Backbone initialisation from a classifier's checkpoint (extra head keys) is a partial load by design."""
    backbone = MODELS.build(
        dict(
            type='ResNet',
            depth=18,
            stem_channels=8,
            base_channels=8,
            init_cfg=dict(type='Pretrained', checkpoint=ckpt_10, prefix='backbone.')))
    backbone.init_weights()
    full = MODELS.build(_model_cfg(10))
    full.backbone.init_cfg = dict(type='Pretrained', checkpoint=ckpt_10)  # keys without the prefix: all unexpected
    full.backbone.init_weights()
