# Copyright (c) OpenMMLab. All rights reserved.
"""NonFiniteCheckHook: losses, the logged gradient norm, parameters and the
predictions the metrics read."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

from dcal_mm.engine import NonFiniteCheckHook, NonFiniteError


def _runner(clip_grad):
    model = torch.nn.Linear(2, 2)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), clip_grad=clip_grad)
    return SimpleNamespace(iter=6, epoch=1, model=model, optim_wrapper=wrapper,
                           message_hub=MessageHub.get_instance('non_finite_test'))


def test_loss_grad_norm_and_parameters():
    hook = NonFiniteCheckHook()
    runner = _runner(dict(max_norm=1.0))
    hook.after_train_iter(runner, 3, outputs=dict(loss=torch.tensor(1.0)))
    with pytest.raises(NonFiniteError, match=r'non-finite loss at iteration 7 \(epoch 2, batch 4\): loss=inf, '
                       r'loss_cls=inf'):
        hook.after_train_iter(runner, 3, outputs=dict(loss=torch.tensor(float('inf')), loss_cls=torch.tensor(
            float('inf')), loss_aux=torch.tensor(0.5)))
    runner.message_hub.update_scalar('train/grad_norm', float('nan'))
    with pytest.raises(NonFiniteError, match='non-finite gradient norm at iteration 7 .*grad_norm=nan'):
        hook.after_train_iter(runner, 3, outputs=dict(loss=torch.tensor(1.0)))
    runner = _runner(None)  # no clipping, so no norm: the parameters
    with torch.no_grad():
        runner.model.bias[0] = float('nan')
    with pytest.raises(NonFiniteError, match='non-finite parameters after the step of iteration 7 .*: bias'):
        hook.after_train_iter(runner, 3, outputs=dict(loss=torch.tensor(1.0)))


def test_predictions_the_metrics_read():
    hook = NonFiniteCheckHook()
    good = DataSample().set_pred_score(torch.tensor([0.2, 0.8]))
    hook.after_val_iter(None, 0, outputs=[good])
    bad = DataSample(metainfo=dict(img_path='a.jpg')).set_pred_score(torch.tensor([float('nan'), 0.8]))
    with pytest.raises(NonFiniteError, match='validation: non-finite pred_score for a.jpg'):
        hook.after_val_iter(None, 0, outputs=[good, bad])
    feature = DataSample(metainfo=dict(sample_idx=5))
    feature.pred_feature = torch.tensor([float('inf')])
    with pytest.raises(NonFiniteError, match='test: non-finite pred_feature for sample_idx 5'):
        hook.after_test_iter(None, 2, outputs=[feature])
