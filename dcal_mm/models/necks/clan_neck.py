# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..layers import CrossLayerContextAttention, CrossLayerSpatialAttention

_FUSE_MODES = ('concat', 'sum', 'mean')
_POOL_MODES = ('avg', 'max')


@MODELS.register_module()
class CLANNeck(BaseModule):
    """Cross-layer attention neck of CLAN (Huang et al., arXiv 2210.08784).

    Takes the backbone maps ``(L_1, ..., L_{N-1}, L_N)``: every map but the
    last is a mid level, the last is the top level. For each mid level ``s``:

    1. CLCA refines it with context guided by the top map:
       ``L^_s = CLCA_s(L_s, L_N)``;
    2. CLSA turns ``L^_s`` into a spatial map that re-weights the top map:
       ``L^_N,s = CLSA_s(L^_s, L_N)``.

    The re-weighted top maps are fused into ``L^_N`` and every branch map is
    pooled to one feature. Each level has its own CLCA and CLSA.

    Args:
        in_channels (Sequence[int]): Channels of the backbone maps, mid levels
            first, top level last, e.g. ``(512, 1024, 2048)`` for ResNet-50.
        clca_reduction (int): ``C' = C_s // clca_reduction`` embedding channels
            in CLCA. Defaults to 2 (our choice, non-local convention).
        clca_normalize (str): CLCA affinity normalisation, ``'softmax'``
            (default) or ``'mean'``. See :class:`CrossLayerContextAttention`.
        clca_use_scale (bool): Scale the CLCA affinity by ``1/sqrt(C')`` before
            the softmax. Defaults to True (our choice).
        clca_upsample (str): Up-sampling of the top map in CLCA,
            ``'bilinear'`` (default) or ``'nearest'``.
        clca_zero_init (bool): CLCA starts as the identity (zero BN weight).
            Defaults to True (our choice).
        clsa_kernel_size (int): CLSA conv kernel. Defaults to 7 (our choice).
        clsa_downsample (str): CLSA map down-sampling, ``'avg'`` (default),
            ``'max'`` or ``'bilinear'``.
        clsa_residual (bool): CLSA output ``L_N * (1 + M)`` instead of
            ``L_N * M``. Defaults to False.
        fuse (str): How the per-level re-weighted top maps form ``L^_N``:
            ``'concat'`` along channels (default; the paper draws them as
            adjacent blocks), ``'sum'`` or ``'mean'``.
        pool (str): Global pooling of every branch, ``'avg'`` (default) or
            ``'max'``.
        init_cfg (dict, optional): Initialisation config. Defaults to None
            (PyTorch defaults, plus the CLCA zero init).

    Outputs of :meth:`forward`: a tuple of ``N + 1`` pooled features
    ``(Pool(L^_1), ..., Pool(L^_{N-1}), Pool(L_N), Pool(L^_N))``, each
    (B, C), with channels :attr:`out_channels`; for ResNet-50 and
    ``fuse='concat'``: (512, 1024, 2048, 4096).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 clca_reduction: int = 2,
                 clca_normalize: str = 'softmax',
                 clca_use_scale: bool = True,
                 clca_upsample: str = 'bilinear',
                 clca_zero_init: bool = True,
                 clsa_kernel_size: int = 7,
                 clsa_downsample: str = 'avg',
                 clsa_residual: bool = False,
                 fuse: str = 'concat',
                 pool: str = 'avg',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = tuple(in_channels)
        if len(in_channels) < 2:
            raise ValueError(f'CLANNeck needs at least one mid level and the top level, got in_channels={in_channels}')
        if clca_reduction < 1:
            raise ValueError(f'CLANNeck clca_reduction must be >= 1, got {clca_reduction}')
        if fuse not in _FUSE_MODES:
            raise ValueError(f'CLANNeck fuse must be one of {_FUSE_MODES}, got {fuse!r}')
        if pool not in _POOL_MODES:
            raise ValueError(f'CLANNeck pool must be one of {_POOL_MODES}, got {pool!r}')
        self.in_channels = in_channels
        self.fuse = fuse
        mid_channels, top_channels = in_channels[:-1], in_channels[-1]
        self.clca = nn.ModuleList([
            CrossLayerContextAttention(c, top_channels, max(c // clca_reduction, 1), clca_normalize, clca_use_scale,
                                       clca_upsample, clca_zero_init) for c in mid_channels
        ])
        self.clsa = nn.ModuleList(
            [CrossLayerSpatialAttention(clsa_kernel_size, clsa_downsample, clsa_residual) for _ in mid_channels])
        self.pool = nn.AdaptiveAvgPool2d(1) if pool == 'avg' else nn.AdaptiveMaxPool2d(1)
        fused_channels = top_channels * len(mid_channels) if fuse == 'concat' else top_channels
        self.out_channels = mid_channels + (top_channels, fused_channels)

    def forward_maps(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Compute the branch maps before pooling.

        Args:
            inputs (Sequence[torch.Tensor]): Backbone maps, mid levels
                (B, C_s, H_s, W_s) first, top level (B, C_N, H_N, W_N) last.

        Returns:
            tuple[torch.Tensor]: ``(L^_1, ..., L^_{N-1}, L_N, L^_N)``.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'CLANNeck expects {len(self.in_channels)} maps, got {len(inputs)}')
        *mids, top = inputs
        refined_mids, refined_tops = [], []
        for mid, clca, clsa in zip(mids, self.clca, self.clsa):
            mid = clca(mid, top)
            refined_mids.append(mid)
            refined_tops.append(clsa(mid, top))
        if self.fuse == 'concat':
            fused = torch.cat(refined_tops, dim=1)
        else:
            fused = torch.stack(refined_tops).sum(0)
            if self.fuse == 'mean':
                fused = fused / len(refined_tops)
        return (*refined_mids, top, fused)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Forward.

        Args:
            inputs (Sequence[torch.Tensor]): Backbone maps, see
                :meth:`forward_maps`.

        Returns:
            tuple[torch.Tensor]: One pooled feature (B, C_b) per branch.
        """
        return tuple(self.pool(m).flatten(1) for m in self.forward_maps(inputs))
