# Copyright (c) OpenMMLab. All rights reserved.
import math
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
from mmpretrain.registry import HOOKS

from dcal_mm.utils.checkpoint import unwrap_model


class NonFiniteError(FloatingPointError):
    """A loss, gradient norm, parameter or prediction is NaN or infinite."""


def _non_finite(values: dict) -> Optional[str]:
    """``'name=value, ...'`` of the non-finite scalars of ``values`` (None if
    all are finite)."""
    bad = []
    for name, value in values.items():
        if isinstance(value, torch.Tensor):
            if value.numel() == 0 or bool(torch.isfinite(value.detach()).all()):
                continue
            value = value.detach().float().mean().item()
        elif not isinstance(value, (int, float)) or math.isfinite(value):
            continue
        bad.append(f'{name}={value}')
    return ', '.join(bad) or None


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Stop at the first NaN / infinite loss, gradient norm, parameter or
    prediction.

    Without it a run whose loss became NaN trains on to the end, saves NaN
    checkpoints and reports top-1 0.0 (exit 0). This hook raises
    :class:`NonFiniteError` naming the iteration and the term:

    * after every training iteration, the loss terms the model returned
      (``loss``, ``loss_sa``, ...), then the gradient norm that
      ``optim_wrapper.clip_grad`` logged (not under ``AmpOptimWrapper``, whose
      dynamic loss scale skips steps with infinite gradients on purpose);
      without ``clip_grad`` no gradient norm exists, so the parameters are
      checked instead (a non-finite gradient makes them non-finite);
    * after every validation / test iteration, the ``pred_score`` /
      ``pred_feature`` of each sample (what the metrics read), naming the
      image.

    It runs before ``CheckpointHook`` (priority ``ABOVE_NORMAL``), so no
    checkpoint of a non-finite model is written; the earlier ones stay.

    Registered in ``default_hooks`` of ``configs/_base_/default_runtime.py``.

    Args:
        check_params (bool): Check the parameters after each step when no
            gradient norm is logged. Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_params: bool = True) -> None:
        self.check_params = check_params

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        """Check the loss terms, the gradient norm or the parameters."""
        where = f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        bad = _non_finite(dict(outputs or {}))
        if bad is not None:
            raise NonFiniteError(f'non-finite loss at {where}: {bad}; training stopped (no checkpoint of it saved). '
                                 'Lower the learning rate, set optim_wrapper.clip_grad, or check the inputs '
                                 '(data_preprocessor mean/std)')
        wrapper = runner.optim_wrapper
        wrappers = wrapper.values() if isinstance(wrapper, OptimWrapperDict) else [wrapper]
        if any(isinstance(w, AmpOptimWrapper) for w in wrappers):
            return  # the loss scaler skips steps with inf gradients (and lowers the scale)
        if any(getattr(w, 'clip_grad_kwargs', None) for w in wrappers):
            buffer = runner.message_hub.log_scalars.get('train/grad_norm')
            if buffer is not None and not math.isfinite(buffer.current()):
                raise NonFiniteError(f'non-finite gradient norm at {where}: grad_norm={buffer.current()} (losses: '
                                     f'{_format(outputs)}); training stopped (no checkpoint of it saved)')
        elif self.check_params:
            params = [p.detach() for p in unwrap_model(runner.model).parameters() if p.requires_grad]
            if params and not bool(torch.isfinite(torch.stack(torch._foreach_norm(params))).all()):
                name = next(n for n, p in unwrap_model(runner.model).named_parameters()
                            if p.requires_grad and not bool(torch.isfinite(p).all()))
                raise NonFiniteError(f'non-finite parameters after the step of {where}: {name} (a NaN / infinite '
                                     f'gradient; losses: {_format(outputs)}); training stopped (no checkpoint of it '
                                     'saved). Set optim_wrapper.clip_grad to log and clip the gradient norm')

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[Sequence] = None) -> None:
        """Check the predictions that the validation metrics will read."""
        self._check_predictions('validation', batch_idx, outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[Sequence] = None) -> None:
        """Check the predictions that the test metrics will read."""
        self._check_predictions('test', batch_idx, outputs)

    @staticmethod
    def _check_predictions(phase: str, batch_idx: int, outputs: Optional[Sequence]) -> None:
        for sample in outputs or []:
            for key in ('pred_score', 'pred_feature'):
                value = sample.get(key) if hasattr(sample, 'get') else None
                if isinstance(value, torch.Tensor) and not bool(torch.isfinite(value).all()):
                    image = sample.get('img_path', None) or f'sample_idx {sample.get("sample_idx", "?")}'
                    raise NonFiniteError(f'{phase}: non-finite {key} for {image} (batch {batch_idx + 1}); the model '
                                         'weights or inputs hold NaN / inf, so every metric would be wrong')


def _format(outputs: Optional[dict]) -> str:
    return ', '.join(f'{k}={float(v):.4g}' for k, v in (outputs or {}).items()) or 'none'
