# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, List, Optional, Tuple, Union

import timm
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader
from mmpretrain.registry import MODELS

from ..layers import RGAModule
from ..utils import checkpointed

_BRANCHES = {'rgasc': (True, True), 'rgas': (True, False), 'rgac': (False, True)}
_STAGE_CHANNELS = (256, 512, 1024, 2048)


def _half(size: int) -> int:
    # Output size of the stride-2 stem conv (k7, p3), max-pool (k3, p1) and
    # 3x3 stage convs (p1): floor((n - 1) / 2) + 1.
    return (size - 1) // 2 + 1


def rga_stage_sizes(height: int, width: int, last_stride: int = 1) -> List[Tuple[int, int]]:
    """Feature-map sizes after the four ResNet-50 stages.

    Args:
        height (int): Input height.
        width (int): Input width.
        last_stride (int): Stride of stage 4 (1 or 2). Defaults to 1.

    Returns:
        list[tuple[int, int]]: (H, W) after layer1..layer4, e.g.
        ``[(64, 32), (32, 16), (16, 8), (16, 8)]`` for 256x128.
    """
    h, w = _half(_half(height)), _half(_half(width))
    sizes = [(h, w)]
    for stride in (2, 2, last_stride):
        if stride == 2:
            h, w = _half(h), _half(w)
        sizes.append((h, w))
    return sizes


@MODELS.register_module()
class RGAResNet50(BaseModule):
    """ResNet-50 with Relation-Aware Global Attention (RGA, CVPR 2020).

    timm's ResNet-50 (torchvision layout, stride on the 3x3 conv) with the
    stride of stage 4 set to ``last_stride`` (1 as in the official code: no
    dilation, unlike timm's ``output_stride=16``), and one RGA module after
    each of the four stages (as ``RGA_Branch`` in the official code). The
    output is the globally average-pooled last map.

    The RGA modules are built for one input size: an input of another size
    raises a ``ValueError`` naming both sizes. The stage sizes follow the conv
    arithmetic, e.g. 256x128 -> 64x32, 32x16, 16x8, 16x8.

    Pretrained weights: ``init_cfg=dict(type='Pretrained',
    checkpoint='path/to/resnet50.pth')`` loads a torchvision
    (``resnet50-19c8e357.pth``, ``resnet50-0676ba61.pth``...) or timm
    ResNet-50 state dict from a local file into the ResNet part (RGA modules
    keep PyTorch's default init, as officially). The file may be a plain state
    dict or hold it under ``'state_dict'`` or ``'model'``; an optional
    ``prefix`` (e.g. ``'backbone.resnet.'``) selects and strips a key prefix.
    ``fc.*`` keys are ignored and missing ``num_batches_tracked`` buffers are
    allowed; any other missing, unexpected or mis-shaped key is an error that
    lists them. Any other ``init_cfg`` goes to :class:`BaseModule`.

    Args:
        height (int): Input image height. Defaults to 256.
        width (int): Input image width. Defaults to 128.
        branch (str): ``'rgasc'`` (spatial then channel), ``'rgas'`` or
            ``'rgac'``. Defaults to ``'rgasc'``.
        last_stride (int): Stride of stage 4, 1 or 2. Defaults to 1.
        cha_ratio (int): Channel reduction ratio s1. Defaults to 8.
        spa_ratio (int): Spatial reduction ratio s2. Defaults to 8.
        down_ratio (int): Reduction inside the attention heads. Defaults to 8.
        with_cp (bool): Gradient checkpointing of each residual block and each
            RGA module while gradients are enabled (BatchNorm running
            statistics are updated once, as without it). Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None.
    """

    def __init__(self, height: int = 256, width: int = 128, branch: str = 'rgasc', last_stride: int = 1,
                 cha_ratio: int = 8, spa_ratio: int = 8, down_ratio: int = 8, with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if branch not in _BRANCHES:
            raise ValueError(f'RGAResNet50: branch must be one of {sorted(_BRANCHES)}, got {branch!r}')
        if last_stride not in (1, 2):
            raise ValueError(f'RGAResNet50: last_stride must be 1 or 2, got {last_stride}')
        self.input_size = (height, width)
        self.branch = branch
        self.last_stride = last_stride
        self.with_cp = with_cp
        self.out_channels = _STAGE_CHANNELS[-1]

        self.resnet = timm.create_model('resnet50', pretrained=False, num_classes=0, global_pool='')
        if last_stride == 1:
            block = self.resnet.layer4[0]
            block.conv2.stride = (1, 1)
            block.downsample[0].stride = (1, 1)

        use_spatial, use_channel = _BRANCHES[branch]
        self.stage_sizes = rga_stage_sizes(height, width, last_stride)
        self.rga_modules = nn.ModuleList([
            RGAModule(channels, size, use_spatial=use_spatial, use_channel=use_channel, cha_ratio=cha_ratio,
                      spa_ratio=spa_ratio, down_ratio=down_ratio)
            for channels, size in zip(_STAGE_CHANNELS, self.stage_sizes)
        ])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Forward.

        Args:
            x (torch.Tensor): Images of shape (B, 3, height, width).

        Returns:
            tuple[torch.Tensor]: The pooled feature of shape (B, 2048).
        """
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(f'RGAResNet50 was built for {self.input_size[0]}x{self.input_size[1]} inputs '
                             f'(height x width), got {x.shape[-2]}x{x.shape[-1]}; set height/width to the input size')
        r = self.resnet
        x = r.maxpool(r.act1(r.bn1(r.conv1(x))))
        with_cp = self.with_cp and torch.is_grad_enabled()
        for layer, rga in zip((r.layer1, r.layer2, r.layer3, r.layer4), self.rga_modules):
            for block in (*layer, rga):
                x = checkpointed(block, x) if with_cp else block(x)
        return (x.mean(dim=(2, 3)), )

    def init_weights(self) -> None:
        """Load a local ResNet-50 checkpoint if ``init_cfg`` is
        ``Pretrained``, else defer to :class:`BaseModule`."""
        cfg = self.init_cfg
        if not (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        if 'checkpoint' not in cfg:
            raise ValueError('RGAResNet50: init_cfg of type Pretrained needs a "checkpoint" path')
        self.load_resnet_weights(cfg['checkpoint'], prefix=cfg.get('prefix'))
        self._is_init = True

    def load_resnet_weights(self, checkpoint: str, prefix: Optional[str] = None) -> None:
        """Load torchvision/timm ResNet-50 weights into the ResNet part.

        Args:
            checkpoint (str): Path of the checkpoint file.
            prefix (str, optional): Only keys starting with it are used, with
                it removed. Defaults to None.
        """
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        state = self._select_state_dict(ckpt, checkpoint, prefix)
        own = self.resnet.state_dict()
        missing = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
        unexpected = [k for k in state if k not in own]
        mis_shaped = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in state
                      if k in own and state[k].shape != own[k].shape]
        problems = []
        for name, keys in (('missing', missing), ('unexpected', unexpected), ('shape mismatch', mis_shaped)):
            if keys:
                shown = ', '.join(keys[:10]) + (f' ... (+{len(keys) - 10})' if len(keys) > 10 else '')
                problems.append(f'{name} {len(keys)}: {shown}')
        if problems:
            raise ValueError(f'RGAResNet50: {checkpoint} is not a torchvision/timm ResNet-50 state dict: '
                             + '; '.join(problems))
        self.resnet.load_state_dict(state, strict=False)
        print_log(f'RGAResNet50: loaded {len(state)} ResNet-50 tensors from {checkpoint}', logger='current')

    @staticmethod
    def _select_state_dict(ckpt: dict, checkpoint: str, prefix: Optional[str]) -> Dict[str, torch.Tensor]:
        if not isinstance(ckpt, dict):
            raise ValueError(f'RGAResNet50: {checkpoint} holds a {type(ckpt).__name__}, expected a state dict')
        for key in ('state_dict', 'model'):
            if isinstance(ckpt.get(key), dict):
                ckpt = ckpt[key]
                break
        if prefix:
            ckpt = {k[len(prefix):]: v for k, v in ckpt.items() if k.startswith(prefix)}
            if not ckpt:
                raise ValueError(f'RGAResNet50: no key of {checkpoint} starts with prefix {prefix!r}')
        state = {}
        for key, value in ckpt.items():
            key = key[len('module.'):] if key.startswith('module.') else key
            if not key.startswith('fc.'):  # ImageNet classifier, not used
                state[key] = value
        return state
