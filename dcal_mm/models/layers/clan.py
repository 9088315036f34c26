# Copyright (c) OpenMMLab. All rights reserved.
"""Cross-layer attention blocks of CLAN (Huang et al., arXiv 2210.08784).

The paper gives the block diagrams (its Fig. 2 and Fig. 3) but not the layer
hyper-parameters, so every choice below that is not in the figures is ours;
each is an argument, and its docstring says so.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

_UPSAMPLE_MODES = ('bilinear', 'nearest')
_NORMALIZE_MODES = ('softmax', 'mean')
_DOWNSAMPLE_MODES = ('avg', 'max', 'bilinear')


class CrossLayerContextAttention(nn.Module):
    """Cross-layer context attention (CLCA).

    A non-local block on a mid-level map whose affinity is guided by the
    top-level map (paper Fig. 2)::

        Z   = W_g(Up(L_top)) + W_l(L_mid)
        A   = normalize(W_theta(Z)^T W_phi(Z))          # (H_s W_s, H_s W_s)
        out = L_mid + BN(W_y(A . W_k(L_mid)))

    ``W_g`` is applied before the up-sampling: a 1x1 conv commutes with
    bilinear / nearest interpolation (both are convex combinations), so this
    equals the figure's order at a fraction of the cost.

    Args:
        in_channels (int): Channels ``C_s`` of the mid-level map.
        top_channels (int): Channels ``C_g`` of the top-level map.
        inter_channels (int, optional): Embedding channels ``C'`` of all
            1x1 projections. Defaults to ``in_channels // 2`` (our choice,
            the non-local-block convention).
        normalize (str): How the affinity is normalised: ``'softmax'`` over
            the key positions (embedded-Gaussian non-local, our default) or
            ``'mean'`` (dot product divided by the number of positions).
        use_scale (bool): Divide the affinity by ``sqrt(C')`` before the
            softmax, as :class:`mmcv.cnn.NonLocal2d` does by default (our
            choice; keeps the softmax from saturating). Only used with
            ``normalize='softmax'``. Defaults to True.
        upsample_mode (str): Interpolation of the top-level map to the
            mid-level size, ``'bilinear'`` (default, our choice) or
            ``'nearest'``.
        zero_init (bool): Zero-initialise the weight of the BN after ``W_y``
            so that the block starts as the identity, as non-local blocks do
            (our choice). Defaults to True.
    """

    def __init__(self,
                 in_channels: int,
                 top_channels: int,
                 inter_channels: Optional[int] = None,
                 normalize: str = 'softmax',
                 use_scale: bool = True,
                 upsample_mode: str = 'bilinear',
                 zero_init: bool = True) -> None:
        super().__init__()
        if normalize not in _NORMALIZE_MODES:
            raise ValueError(f'normalize must be one of {_NORMALIZE_MODES}, got {normalize!r}')
        if upsample_mode not in _UPSAMPLE_MODES:
            raise ValueError(f'upsample_mode must be one of {_UPSAMPLE_MODES}, got {upsample_mode!r}')
        inter_channels = inter_channels or max(in_channels // 2, 1)
        self.in_channels = in_channels
        self.top_channels = top_channels
        self.inter_channels = inter_channels
        self.normalize = normalize
        self.use_scale = use_scale
        self.upsample_mode = upsample_mode

        self.top_proj = nn.Conv2d(top_channels, inter_channels, 1)  # W_g
        self.mid_proj = nn.Conv2d(in_channels, inter_channels, 1)  # W_l
        self.query = nn.Conv2d(inter_channels, inter_channels, 1)  # W_theta
        self.key = nn.Conv2d(inter_channels, inter_channels, 1)  # W_phi
        self.value = nn.Conv2d(in_channels, inter_channels, 1)  # W_k
        self.out_proj = nn.Conv2d(inter_channels, in_channels, 1)  # W_y
        self.out_norm = nn.BatchNorm2d(in_channels)
        if zero_init:
            nn.init.zeros_(self.out_norm.weight)

    def forward(self, mid: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
        """Refine a mid-level map.

        Args:
            mid (torch.Tensor): Mid-level map ``L_s``, shape (B, C_s, H_s, W_s).
            top (torch.Tensor): Top-level map ``L_N``, shape (B, C_g, H_g, W_g).

        Returns:
            torch.Tensor: The refined map ``L^_s``, shape (B, C_s, H_s, W_s).
        """
        b, _, h, w = mid.shape
        align = False if self.upsample_mode == 'bilinear' else None
        guide = F.interpolate(self.top_proj(top), size=(h, w), mode=self.upsample_mode, align_corners=align)
        z = guide + self.mid_proj(mid)
        query = self.query(z).flatten(2).transpose(1, 2)  # (B, N, C')
        key = self.key(z).flatten(2).transpose(1, 2)
        value = self.value(mid).flatten(2).transpose(1, 2)
        if self.normalize == 'softmax':
            # Fused attention avoids materialising the (N, N) map where a kernel allows it.
            out = F.scaled_dot_product_attention(query, key, value, scale=None if self.use_scale else 1.0)
        else:
            out = (query @ key.transpose(1, 2)) @ value / key.size(1)
        out = out.transpose(1, 2).reshape(b, self.inter_channels, h, w)
        return mid + self.out_norm(self.out_proj(out))


class CrossLayerSpatialAttention(nn.Module):
    """Cross-layer spatial attention (CLSA).

    A spatial map from a (refined) mid-level map re-weights the top-level map
    (paper Fig. 3)::

        M   = sigmoid(Conv([max_c(L^_s); mean_c(L^_s)]))   # (B, 1, H_s, W_s)
        out = L_top * R(M)                                   # R: to (H_g, W_g)

    Args:
        kernel_size (int): Kernel of the conv over the 2 pooled channels; odd.
            Defaults to 7 (our choice, as in CBAM's spatial attention).
        downsample (str): How ``R`` brings the map to the top-level size:
            ``'avg'`` (adaptive average pooling, default, our choice),
            ``'max'`` (adaptive max pooling) or ``'bilinear'``. All keep the
            map in [0, 1].
        residual (bool): Return ``L_top * (1 + R(M))`` instead of
            ``L_top * R(M)`` (our option; the paper draws a plain
            element-wise product). Defaults to False.
    """

    def __init__(self, kernel_size: int = 7, downsample: str = 'avg', residual: bool = False) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be a positive odd int, got {kernel_size}')
        if downsample not in _DOWNSAMPLE_MODES:
            raise ValueError(f'downsample must be one of {_DOWNSAMPLE_MODES}, got {downsample!r}')
        self.kernel_size = kernel_size
        self.downsample = downsample
        self.residual = residual
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def spatial_map(self, mid: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        """Compute the re-sized spatial map ``R(M)``.

        Args:
            mid (torch.Tensor): Refined mid-level map, shape (B, C_s, H_s, W_s).
            size (tuple[int, int]): Target size ``(H_g, W_g)``.

        Returns:
            torch.Tensor: The map in [0, 1], shape (B, 1, H_g, W_g).
        """
        pooled = torch.cat([mid.amax(dim=1, keepdim=True), mid.mean(dim=1, keepdim=True)], dim=1)
        attn = torch.sigmoid(self.conv(pooled))
        if self.downsample == 'avg':
            return F.adaptive_avg_pool2d(attn, size)
        if self.downsample == 'max':
            return F.adaptive_max_pool2d(attn, size)
        return F.interpolate(attn, size=size, mode='bilinear', align_corners=False)

    def forward(self, mid: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
        """Re-weight the top-level map.

        Args:
            mid (torch.Tensor): Refined mid-level map, shape (B, C_s, H_s, W_s).
            top (torch.Tensor): Top-level map, shape (B, C_g, H_g, W_g).

        Returns:
            torch.Tensor: The re-weighted top-level map, shape (B, C_g, H_g, W_g).
        """
        attn = self.spatial_map(mid, [int(s) for s in top.shape[-2:]])  # int: a constant in ONNX export
        return top * (1 + attn) if self.residual else top * attn
