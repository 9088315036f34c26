# Copyright (c) OpenMMLab. All rights reserved.
"""ValPictureHook sends the labelled attention pictures and (Re-ID) rank
lists of the validation set to the visualizer."""
import os.path as osp
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import dcal_mm  # noqa: F401
from dcal_mm.apis import build_inference_model
from dcal_mm.datasets import make_demo_cub, make_demo_market1501
from dcal_mm.engine.hooks import ValPictureHook
from dcal_mm.visualization import attention_maps, render_attention_picture

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _validate(config, data_root, hook, batch_size=4):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model, _ = build_inference_model(osp.join(REPO, config))
    loader_cfg = Config.fromfile(osp.join(REPO, config)).val_dataloader
    loader_cfg.dataset.data_root = data_root
    loader_cfg.update(num_workers=0, persistent_workers=False, batch_size=batch_size)
    loader = Runner.build_dataloader(loader_cfg)
    runner = SimpleNamespace(model=model, visualizer=mock.Mock(), epoch=3)
    hook.before_val_epoch(runner)
    batches = []
    with torch.no_grad():
        for i, batch in enumerate(loader):
            outputs = model.val_step(batch)
            hook.after_val_iter(runner, i, batch, outputs)
            batches.append((batch, outputs))
    hook.after_val_epoch(runner, {})
    calls = {c.args[0]: c for c in runner.visualizer.add_image.call_args_list}
    return model, batches, calls


def test_fgvc_attention_pictures(tmp_path):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=3, train_per_class=1, test_per_class=2)
    model, batches, calls = _validate('configs/dcal/demo_fgvc.py', root, ValPictureHook(num_images=3))
    assert sorted(calls) == ['val_attention_0', 'val_attention_1', 'val_attention_2']  # no rank lists for FGVC
    call = calls['val_attention_1']
    picture = call.args[1]
    assert call.kwargs['step'] == 3 and min(picture.shape[:2]) >= 256
    # the picture of the second validation image, as render_attention_picture draws it (RGB for the visualizer)
    batch, outputs = batches[0]
    inputs = model.data_preprocessor(dict(inputs=batch['inputs'][:3], data_samples=batch['data_samples'][:3]),
                                     False)['inputs']
    view = batch['inputs'][1].permute(1, 2, 0).numpy().astype(np.uint8).copy()
    expected = render_attention_picture(view, attention_maps(model, inputs), index=1,
                                        title=f'class {int(outputs[1].pred_score.argmax())}: '
                                        f'{float(outputs[1].pred_score.max()):.3f}')
    np.testing.assert_array_equal(picture, expected[..., ::-1])


def test_reid_rank_lists_and_interval(tmp_path):
    make_demo_market1501(str(tmp_path / 'data'), num_train_ids=2, num_test_ids=3, num_distractors=1, num_junk=1)
    _, _, calls = _validate('configs/dcal/demo_reid.py', str(tmp_path / 'data'),
                            ValPictureHook(num_images=1, num_queries=2, topk=3, cell_size=(64, 32)))
    assert sorted(calls) == ['val_attention_0', 'val_rank_0', 'val_rank_1']
    rank = calls['val_rank_0'].args[1]
    assert rank.ndim == 3 and rank.shape[1] > 4 * 32  # the query and 3 ranked gallery images
    # interval=2: the first validation draws nothing
    _, _, calls = _validate('configs/dcal/demo_reid.py', str(tmp_path / 'data'), ValPictureHook(interval=2))
    assert calls == {}


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_images'):
        ValPictureHook(num_images=-1)
