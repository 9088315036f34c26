# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sequence, Tuple

import timm
import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import checkpointed, read_state_dict

# Parts of a timm / torchvision ResNet classifier a feature backbone has no use for.
_HEAD_PREFIXES = ('fc.', )
_PREFIXES = ('module.', )
_STEM = ('conv1', 'bn1', 'act1', 'maxpool')
_STAGES = ('layer1', 'layer2', 'layer3', 'layer4')


@MODELS.register_module()
class CLANResNet(BaseModule):
    """timm ResNet returning several stage maps, the backbone of CLAN.

    The stem and the four stages of a timm ResNet are adopted directly, so the
    parameter names are timm's, which are also torchvision's (``conv1``,
    ``bn1``, ``layer1.0.conv1``, ...).

    Args:
        arch (str): A timm model name from the ``resnet`` module, e.g.
            ``'resnet50'`` (real configs) or ``'resnet18'`` (demo / tests).
        out_indices (Sequence[int]): Stages to output, 0-based over
            ``layer1..layer4`` (``conv2_x..conv5_x``), increasing. Defaults to
            ``(1, 2, 3)``: conv3_x and conv4_x as CLAN's mid levels and conv5_x
            on top (our reading of "2-scale").
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH)``
            loads a local timm or torchvision ResNet state dict
            (``.pth``/``.bin``/``.safetensors``; e.g. timm
            ``resnet50.a1_in1k`` or torchvision ``resnet50-0676ba61.pth``,
            which share key names). ``fc.*`` and the stages after the last
            output (not built) are dropped; an optional ``prefix``
            (e.g. ``'backbone.'``) selects a sub-module of a bigger
            checkpoint. Any other missing, unexpected or mis-shaped key raises
            a ValueError listing them; only ``num_batches_tracked`` buffers,
            absent from old torchvision files, may be missing.
        with_cp (bool): Gradient checkpointing of each residual block while
            gradients are enabled (BatchNorm running statistics are updated
            once, as without it). Defaults to False.

    Outputs of :meth:`forward`: a tuple with one map (B, C_i, H/s_i, W/s_i)
    per ``out_indices``; for ResNet-50 at 448x448 and the default indices:
    (B, 512, 56, 56), (B, 1024, 28, 28), (B, 2048, 14, 14).
    """

    def __init__(self,
                 arch: str = 'resnet50',
                 out_indices: Sequence[int] = (1, 2, 3),
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        resnet_archs = timm.list_models(module='resnet')
        if arch not in resnet_archs:
            raise ValueError(f'CLANResNet arch must be a timm ResNet name (timm.list_models(module="resnet")), '
                             f'got {arch!r}')
        out_indices = tuple(out_indices)
        if not out_indices or list(out_indices) != sorted(set(out_indices)) or not set(out_indices) <= {0, 1, 2, 3}:
            raise ValueError(f'CLANResNet out_indices must be increasing stage indices in [0, 3], got {out_indices}')
        self.arch = arch
        self.out_indices = out_indices
        self.with_cp = with_cp
        resnet = timm.create_model(arch, pretrained=False, num_classes=0)
        for name in _STEM + _STAGES[:max(out_indices) + 1]:
            self.add_module(name, getattr(resnet, name))
        info = {f['module']: f['num_chs'] for f in resnet.feature_info}
        self.out_channels = tuple(info[_STAGES[i]] for i in out_indices)
        self.pretrained_loaded = False

    def init_weights(self) -> None:
        """Load ``init_cfg`` Pretrained weights strictly; timm's own
        initialisation is kept otherwise."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self._load_pretrained(cfg['checkpoint'], cfg.get('prefix'))
            self.pretrained_loaded = True
            self._is_init = True
        elif cfg is not None:
            super().init_weights()

    def _load_pretrained(self, path: str, prefix: Optional[str] = None) -> None:
        state_dict = read_state_dict(path)
        if prefix:
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
            if not state_dict:
                raise ValueError(f'{path} has no keys under the prefix {prefix!r}')
        filtered = {}
        for key, value in state_dict.items():
            for pre in _PREFIXES:
                if key.startswith(pre):
                    key = key[len(pre):]
            if key.startswith(_HEAD_PREFIXES):
                continue
            # Stages after the last output are not built.
            if key.startswith(tuple(f'{s}.' for s in _STAGES[max(self.out_indices) + 1:])):
                continue
            filtered[key] = value
        own = self.state_dict()
        shape_errors = [
            f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}' for k, v in filtered.items()
            if k in own and own[k].shape != v.shape
        ]
        missing = sorted(k for k in set(own) - set(filtered) if not k.endswith('num_batches_tracked'))
        unexpected = sorted(set(filtered) - set(own))
        if missing or unexpected or shape_errors:
            raise ValueError(f'{path} does not match CLANResNet({self.arch!r}): missing keys {missing}, '
                             f'unexpected keys {unexpected}, shape mismatches {shape_errors}')
        self.load_state_dict(filtered, strict=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward.

        Args:
            x (torch.Tensor): Images, shape (B, 3, H, W).

        Returns:
            tuple[torch.Tensor]: The stage maps selected by ``out_indices``.
        """
        for name in _STEM:
            x = getattr(self, name)(x)
        outs = []
        with_cp = self.with_cp and torch.is_grad_enabled()
        for i, name in enumerate(_STAGES[:max(self.out_indices) + 1]):
            for block in getattr(self, name):
                x = checkpointed(block, x) if with_cp else block(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
