# Copyright (c) OpenMMLab. All rights reserved.
"""No random weights without a word, pretrained=True without weights is an
error, class names fit the head, unreadable images are named."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
import mmpretrain
from mmpretrain import ImageClassificationInferencer

from dcal_mm.apis import RandomWeightsWarning

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/dcal/demo_fgvc.py')


def test_pretrained_true_without_weights_is_an_error():
    for model in ('dcal_demo_fgvc', CONFIG):
        with pytest.raises(ValueError, match='has no published weights to load for pretrained=True'):
            mmpretrain.get_model(model, pretrained=True)
    with pytest.raises(ValueError, match='has no published weights'):
        ImageClassificationInferencer('dcal_demo_fgvc')  # the inferencers' default is pretrained=True


def test_random_weights_are_announced_and_names_fit_the_head(tmp_path):
    with pytest.warns(RandomWeightsWarning, match='RANDOM weights'):
        model = mmpretrain.get_model('dcal_demo_fgvc')
    assert 'classes' not in model._dataset_meta  # not MMPretrain's 200 CUB species for a 10-class head
    with pytest.warns(RandomWeightsWarning, match='RANDOM weights'):
        mmpretrain.init_model(Config.fromfile(CONFIG))
    # a checkpoint saved before the fix carries 200 names for 10 classes: dropped, with a warning
    path = str(tmp_path / 'old.pth')
    torch.save({'meta': {'dataset_meta': {'classes': [f'c{i}' for i in range(200)]}}, 'state_dict': model.state_dict()},
               path)
    with pytest.warns(UserWarning, match='200 class names .* for a head with 10 classes'):
        loaded = mmpretrain.get_model('dcal_demo_fgvc', pretrained=path)
    assert 'classes' not in loaded._dataset_meta


def test_inferencer_names_an_unreadable_image(tmp_path):
    with pytest.warns(RandomWeightsWarning):
        model = mmpretrain.get_model('dcal_demo_fgvc')
    inferencer = ImageClassificationInferencer(model)
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(OSError, match=f'cannot read image {empty}: empty file'):
        inferencer(str(empty))
    text = tmp_path / 'text.jpg'
    text.write_text('not an image')
    with pytest.raises(OSError, match=f'cannot read image {text}'):
        inferencer(str(text))
    with pytest.raises(FileNotFoundError, match=f'image file {tmp_path}/missing.jpg does not exist'):
        inferencer(str(tmp_path / 'missing.jpg'))
