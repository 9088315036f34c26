# Copyright (c) OpenMMLab. All rights reserved.
"""Relation-Aware Global Attention (RGA) modules.

Zhang et al., "Relation-Aware Global Attention for Person
Re-identification", CVPR 2020 (arXiv 1904.02998). Written after the official
``RGA_Module`` (microsoft/Relation-Aware-Global-Attention-Networks,
``reid/models/models_utils/rga_modules.py``), whose behaviour we keep:

- embeddings are 1x1 conv (no bias) + BN + ReLU;
- relations are plain dot products ``Q^T K`` (no softmax, no scaling);
- the node of position/channel ``i`` sees ``[R(i, :), R(:, i)]``;
- the attention head ends with a BN before the sigmoid (the paper has none);
- RGA-SC applies the spatial module, then the channel module.

The 1x1 convs run over the N = H * W axis (spatial relation features, channel
nodes), so a module only works at the feature size it was built for.

Efficiency (our choice, same result): the relation embedding ``gg`` is a 1x1
conv, i.e. linear in ``R = Q^T K``, so ``gg([R(i, :), R(:, i)])`` equals
``(W_a K^T) Q + (W_b Q^T) K`` with ``gg``'s weight split as ``[W_a, W_b]``.
We evaluate it in that order and never form the M x M relation matrix
(M = N nodes for RGA-S, C for RGA-C): the cost falls from O(M^3) to
O(M^2 D), D being the query/key width (C / 8 for RGA-S, N / 8 for RGA-C),
e.g. about 30x fewer operations for the 2048-position stage-1 module at
256x128, and no (B, 2M, ...) relation tensor is held in memory.
:meth:`relation` still returns R for inspection.
"""
from typing import Tuple

import torch
import torch.nn as nn


def _reduced(num: int, ratio: int) -> int:
    # The official code uses ``num // ratio``, which is 0 for small maps (e.g.
    # the 64x32 demo input). Our choice: keep at least one channel; this
    # changes nothing at the official 256x128 input.
    return max(1, num // ratio)


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def _embed_relation(gg: nn.Sequential, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``gg`` applied to the relation features of ``R = q^T k``.

    Args:
        gg (nn.Sequential): 1x1 conv (2M -> out, no bias), BN, ReLU.
        q (torch.Tensor): Queries of shape (B, D, M).
        k (torch.Tensor): Keys of shape (B, D, M).

    Returns:
        torch.Tensor: Shape (B, out, M), before gg's BN and ReLU; node ``i``
        is ``W_a R(i, :) + W_b R(:, i)``.
    """
    w_out, w_in = gg[0].weight.flatten(1).chunk(2, dim=1)  # acting on R(i, :) and on R(:, i)
    return (w_out @ k.transpose(1, 2)) @ q + (w_in @ q.transpose(1, 2)) @ k


def _attention_head(in_channels: int, down_ratio: int) -> nn.Sequential:
    hidden = _reduced(in_channels, down_ratio)
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, kernel_size=1, bias=False),
        nn.BatchNorm2d(hidden),
        nn.ReLU(),
        nn.Conv2d(hidden, 1, kernel_size=1, bias=False),
        nn.BatchNorm2d(1),
    )


class _RGABase(nn.Module):
    """Shared constructor arguments and input checks."""

    def __init__(self, in_channels: int, spatial_size: Tuple[int, int], cha_ratio: int = 8, spa_ratio: int = 8,
                 down_ratio: int = 8) -> None:
        super().__init__()
        height, width = spatial_size
        if in_channels <= 0 or height <= 0 or width <= 0:
            raise ValueError(f'{type(self).__name__}: in_channels and spatial_size must be positive, got '
                             f'{in_channels} and {spatial_size}')
        self.in_channels = in_channels
        self.spatial_size = (int(height), int(width))
        self.in_spatial = int(height) * int(width)
        self.inter_channel = _reduced(in_channels, cha_ratio)
        self.inter_spatial = _reduced(self.in_spatial, spa_ratio)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__} expects a (B, C, H, W) feature map, got {tuple(x.shape)}')
        b, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f'{type(self).__name__} was built for {self.in_channels} channels, got {c}')
        if (h, w) != self.spatial_size:
            raise ValueError(f'{type(self).__name__} was built for {self.spatial_size[0]}x{self.spatial_size[1]} '
                             f'feature maps, got {h}x{w}; RGA modules only work at the size they were built for')


class RGASpatial(_RGABase):
    """RGA-S: spatial relation-aware attention.

    Nodes are the N = H * W positions (C-dim vectors). With ``Q = theta(X)``,
    ``K = phi(X)`` (C -> C / cha_ratio), the relation matrix is
    ``R = Q^T K`` of shape (N, N). Position ``i`` is described by its pooled
    own feature ``mean_c(gx(x_i))`` and its embedded relation vector
    ``gg([R(i, :), R(:, i)])`` (2N -> N / spa_ratio); a small head ``W``
    turns this into one attention logit per position, and
    ``out = sigmoid(W(y)) * x``.

    Args:
        in_channels (int): Channels C of the input map.
        spatial_size (tuple[int, int]): (H, W) of the input map.
        cha_ratio (int): Channel reduction of theta, phi and gx. Defaults to 8.
        spa_ratio (int): Reduction of the relation embedding gg. Defaults to 8.
        down_ratio (int): Reduction inside the attention head. Defaults to 8.
    """

    def __init__(self, in_channels: int, spatial_size: Tuple[int, int], cha_ratio: int = 8, spa_ratio: int = 8,
                 down_ratio: int = 8) -> None:
        super().__init__(in_channels, spatial_size, cha_ratio, spa_ratio, down_ratio)
        self.theta = _conv_bn_relu(in_channels, self.inter_channel)
        self.phi = _conv_bn_relu(in_channels, self.inter_channel)
        self.gx = _conv_bn_relu(in_channels, self.inter_channel)
        self.gg = _conv_bn_relu(2 * self.in_spatial, self.inter_spatial)
        self.W = _attention_head(1 + self.inter_spatial, down_ratio)

    def _query_key(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.theta(x).flatten(2), self.phi(x).flatten(2)  # (B, C', N) each

    def relation(self, x: torch.Tensor) -> torch.Tensor:
        """Pairwise spatial relations (for inspection; forward does not
        form them).

        Args:
            x (torch.Tensor): Input of shape (B, C, H, W).

        Returns:
            torch.Tensor: ``R`` of shape (B, N, N), ``R[b, i, j] =
            theta(x)_i . phi(x)_j`` with N = H * W (row-major positions).
        """
        self._check_input(x)
        q, k = self._query_key(x)
        return q.transpose(1, 2) @ k

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial attention map.

        Args:
            x (torch.Tensor): Input of shape (B, C, H, W).

        Returns:
            torch.Tensor: Weights in (0, 1) of shape (B, 1, H, W).
        """
        self._check_input(x)
        b, _, h, w = x.shape
        q, k = self._query_key(x)
        rel = self.gg[1:](_embed_relation(self.gg, q, k).reshape(b, -1, h, w))
        y = torch.cat([self.gx(x).mean(dim=1, keepdim=True), rel], dim=1)
        return torch.sigmoid(self.W(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward.

        Args:
            x (torch.Tensor): Input of shape (B, C, H, W).

        Returns:
            torch.Tensor: Re-weighted input of shape (B, C, H, W).
        """
        return self.attention(x) * x


class RGAChannel(_RGABase):
    """RGA-C: channel relation-aware attention.

    Nodes are the C channels (N-dim vectors, N = H * W). The input is viewed
    as (B, N, C, 1) so the 1x1 convs theta, phi, gx (N -> N / spa_ratio) act
    on the spatial axis; ``R = theta^T phi`` has shape (C, C) and channel
    ``c`` is described by ``mean(gx(x_c))`` and ``gg([R(c, :), R(:, c)])``
    (2C -> C / cha_ratio). The head ``W`` gives one logit per channel and
    ``out = sigmoid(W(y)) * x``.

    Args:
        in_channels (int): Channels C of the input map.
        spatial_size (tuple[int, int]): (H, W) of the input map.
        cha_ratio (int): Reduction of the relation embedding gg. Defaults to 8.
        spa_ratio (int): Reduction of theta, phi and gx. Defaults to 8.
        down_ratio (int): Reduction inside the attention head. Defaults to 8.
    """

    def __init__(self, in_channels: int, spatial_size: Tuple[int, int], cha_ratio: int = 8, spa_ratio: int = 8,
                 down_ratio: int = 8) -> None:
        super().__init__(in_channels, spatial_size, cha_ratio, spa_ratio, down_ratio)
        self.theta = _conv_bn_relu(self.in_spatial, self.inter_spatial)
        self.phi = _conv_bn_relu(self.in_spatial, self.inter_spatial)
        self.gx = _conv_bn_relu(self.in_spatial, self.inter_spatial)
        self.gg = _conv_bn_relu(2 * in_channels, self.inter_channel)
        self.W = _attention_head(1 + self.inter_channel, down_ratio)

    @staticmethod
    def _as_channel_nodes(x: torch.Tensor) -> torch.Tensor:
        # (B, C, H, W) -> (B, N, C, 1): spatial positions become conv channels.
        return x.flatten(2).transpose(1, 2).unsqueeze(-1)

    def _query_key(self, xc: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.theta(xc).squeeze(-1), self.phi(xc).squeeze(-1)  # (B, N', C) each

    def relation(self, x: torch.Tensor) -> torch.Tensor:
        """Pairwise channel relations (for inspection; forward does not
        form them).

        Args:
            x (torch.Tensor): Input of shape (B, C, H, W).

        Returns:
            torch.Tensor: ``R`` of shape (B, C, C), ``R[b, c, d] =
            theta(x)_c . phi(x)_d``.
        """
        self._check_input(x)
        q, k = self._query_key(self._as_channel_nodes(x))
        return q.transpose(1, 2) @ k

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Channel attention weights.

        Args:
            x (torch.Tensor): Input of shape (B, C, H, W).

        Returns:
            torch.Tensor: Weights in (0, 1) of shape (B, C, 1, 1).
        """
        self._check_input(x)
        xc = self._as_channel_nodes(x)
        q, k = self._query_key(xc)
        rel = self.gg[1:](_embed_relation(self.gg, q, k).unsqueeze(-1))  # (B, C', C, 1)
        y = torch.cat([self.gx(xc).mean(dim=1, keepdim=True), rel], dim=1)
        return torch.sigmoid(self.W(y)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward.

        Args:
            x (torch.Tensor): Input of shape (B, C, H, W).

        Returns:
            torch.Tensor: Re-weighted input of shape (B, C, H, W).
        """
        return self.attention(x) * x


class RGAModule(nn.Module):
    """RGA-S, RGA-C or RGA-SC (spatial then channel) on one feature map.

    Args:
        in_channels (int): Channels C of the input map.
        spatial_size (tuple[int, int]): (H, W) of the input map.
        use_spatial (bool): Apply :class:`RGASpatial`. Defaults to True.
        use_channel (bool): Apply :class:`RGAChannel` (after the spatial one
            when both are on). Defaults to True.
        cha_ratio (int): Channel reduction ratio (s1). Defaults to 8.
        spa_ratio (int): Spatial reduction ratio (s2). Defaults to 8.
        down_ratio (int): Reduction inside the attention heads. Defaults to 8.
    """

    def __init__(self, in_channels: int, spatial_size: Tuple[int, int], use_spatial: bool = True,
                 use_channel: bool = True, cha_ratio: int = 8, spa_ratio: int = 8, down_ratio: int = 8) -> None:
        super().__init__()
        if not (use_spatial or use_channel):
            raise ValueError('RGAModule: at least one of use_spatial and use_channel must be True')
        kwargs = dict(cha_ratio=cha_ratio, spa_ratio=spa_ratio, down_ratio=down_ratio)
        self.spatial = RGASpatial(in_channels, spatial_size, **kwargs) if use_spatial else None
        self.channel = RGAChannel(in_channels, spatial_size, **kwargs) if use_channel else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward.

        Args:
            x (torch.Tensor): Input of shape (B, C, H, W).

        Returns:
            torch.Tensor: Output of shape (B, C, H, W).
        """
        if self.spatial is not None:
            x = self.spatial(x)
        if self.channel is not None:
            x = self.channel(x)
        return x
