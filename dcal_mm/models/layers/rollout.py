# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence

import torch
from torch import Tensor


@torch.no_grad()
def attention_rollout_cls(attn_maps: Sequence[Tensor], residual: float = 0.5) -> Tensor:
    """CLS row of the attention rollout (DCAL Eq. 2).

    With S_bar_i = (1 - residual) * S_i + residual * I, the rollout is
    S_hat = S_bar_k ... S_bar_1 and only its first (CLS) row is needed. It is
    computed as a vector-matrix chain from the newest layer down,
    ``v <- v @ S_bar_i``, which costs O(k * N^2) instead of the O(k * N^3) of
    forming S_hat.

    Args:
        attn_maps (Sequence[Tensor]): Head-averaged softmax attention of
            blocks 1..k, oldest first, each of shape (B, N, N).
        residual (float): Weight of the identity. The paper uses 0.5.

    Returns:
        Tensor: The CLS row of S_hat, shape (B, N), float32 (also under
        autocast); rows of S_hat sum to 1.
    """
    if len(attn_maps) == 0:
        raise ValueError('attention rollout needs at least one attention map, got none')
    B, N, _ = attn_maps[0].shape
    # float32 whatever the maps' dtype or the autocast state (autocast would run bmm in bf16/fp16)
    with torch.autocast(attn_maps[0].device.type, enabled=False):
        row = attn_maps[0].new_zeros(B, 1, N, dtype=torch.float32)
        row[:, 0, 0] = 1.
        for attn in reversed(attn_maps):
            row = (1. - residual) * torch.bmm(row, attn.float()) + residual * row
    return row.squeeze(1)
