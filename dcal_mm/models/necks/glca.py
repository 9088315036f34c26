# Copyright (c) OpenMMLab. All rights reserved.
import math
from functools import partial
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ..layers import DCALBlock


@MODELS.register_module()
class GLCA(BaseModule):
    """Global-local cross-attention (DCAL Eq. 3).

    The CLS token and the top-R patch tokens by the rollout CLS row form the
    queries; keys and values are all tokens. It is a full transformer block
    (cross-attention + MLP) with its own weights and its own final norm.

    Our choices where the paper is silent (documented defaults):
    ``keep_cls=True`` (CLS is always a query, so GLCA has a class token for
    its classifier), R = ``floor(top_ratio * N)`` over the N patch tokens with
    a minimum of 1, and initialisation from the backbone's last SA block when
    pretrained weights are loaded (done by the :class:`DCAL` classifier).

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Attention heads.
        top_ratio (float): R as a fraction of the patch tokens, in (0, 1].
            Defaults to 0.1 (FGVC); the paper uses 0.3 for Re-ID.
        keep_cls (bool): Prepend the CLS token to the selected queries. If
            False the output feature is the mean of the selected tokens.
        mlp_ratio (float): MLP hidden width / C.
        qkv_bias (bool): Bias in the qkv projection.
        drop_path_rate (float): Stochastic depth of the block.
        init_from_backbone (bool): Copy the last SA block and final norm when
            the backbone loads pretrained weights.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 top_ratio: float = 0.1,
                 keep_cls: bool = True,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.,
                 init_from_backbone: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0. < top_ratio <= 1.:
            raise ValueError(f'GLCA top_ratio must be in (0, 1], got {top_ratio}')
        self.top_ratio = top_ratio
        self.keep_cls = keep_cls
        self.init_from_backbone = init_from_backbone
        self.block = DCALBlock(
            embed_dims, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=drop_path_rate,
            norm_layer=partial(nn.LayerNorm, eps=1e-6))
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)

    def num_selected(self, num_patches: int) -> int:
        """R for a sequence of ``num_patches`` patch tokens."""
        return max(1, math.floor(self.top_ratio * num_patches))

    @torch.no_grad()
    def select(self, rollout: Tensor) -> Tensor:
        """Indices of the query tokens.

        Args:
            rollout (Tensor): CLS row of the rollout, shape (B, 1 + N).

        Returns:
            Tensor: Token indices, shape (B, R + 1) with CLS (index 0) first
            if ``keep_cls``, else (B, R); patches in descending score order.
        """
        patch_scores = rollout[:, 1:]
        top = patch_scores.topk(self.num_selected(patch_scores.shape[1]), dim=1).indices + 1
        if not self.keep_cls:
            return top
        return torch.cat([top.new_zeros(top.shape[0], 1), top], dim=1)

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor]:
        """
        Args:
            inputs (tuple): Backbone outputs ``(sa_feat, tokens, rollout)``
                with tokens (B, 1 + N, C) and rollout (B, 1 + N).

        Returns:
            tuple[Tensor]: The GLCA feature, shape (B, C).
        """
        if len(inputs) != 3:
            raise ValueError('GLCA expects the backbone outputs (sa_feat, tokens, rollout); '
                             'build DCALViT with with_rollout=True')
        _, tokens, rollout = inputs
        x = self.norm(self.block.forward_cross(tokens, self.select(rollout)))
        return (x[:, 0] if self.keep_cls else x.mean(dim=1), )

    @torch.no_grad()
    def init_from_block(self, block: nn.Module, norm: nn.Module) -> None:
        """Copy a pretrained SA block and final norm into GLCA."""
        self.block.load_state_dict(block.state_dict())
        self.norm.load_state_dict(norm.state_dict())
