# Copyright (c) OpenMMLab. All rights reserved.
from typing import Callable, Optional, Tuple

from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from torch import nn


def build_inference_model(model: str,
                          checkpoint: Optional[str] = None,
                          device: str = 'cpu',
                          cfg_options: Optional[dict] = None) -> Tuple[nn.Module, Callable]:
    """A model in eval mode and its test pipeline, for the demo and
    visualisation tools.

    Args:
        model (str): A config file or a model name of ``mmpretrain.list_models()``.
        checkpoint (str, optional): Weights; random ones without.
        device (str): Device. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Config overrides.

    Returns:
        tuple[nn.Module, Callable]: The model (from ``mmpretrain.get_model``)
        and the test pipeline, from ``LoadImageFromFile`` on.
    """
    from mmpretrain import get_model
    cfg = Config.fromfile(model) if model.endswith('.py') else get_model(model)._config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return get_model(cfg, pretrained=checkpoint or False, device=device), Compose(cfg.test_dataloader.dataset.pipeline)


def model_input_size(model: nn.Module, tool: str) -> Tuple[int, int]:
    """(H, W) a model takes: its backbone's ``img_size`` (ViTs) or ``input_size`` (RGA).

    Args:
        model (nn.Module): A classifier with a ``backbone``.
        tool (str): The caller's name, for the error of a backbone that does not record its size (the caller's
            ``--shape H W`` gives it).
    """
    size = getattr(model.backbone, 'img_size', None) or getattr(model.backbone, 'input_size', None)
    if size is None:
        raise ValueError(f'{tool}: {type(model.backbone).__name__} does not record its input size; pass '
                         '--shape H W')
    return (size, size) if isinstance(size, int) else tuple(size)
