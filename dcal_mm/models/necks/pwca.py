# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional, Tuple

from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class PWCA(BaseModule):
    """Pair-wise cross-attention branch (DCAL Eq. 4), training only.

    It owns no parameters: its T blocks are the SA blocks of the backbone
    (shared weights), run in their pair mode. The target stream starts from
    the target's embedded tokens and, in each of the first T blocks, attends
    to [K1; K2], [V1; V2] where the partner's keys/values come from the
    partner's hidden state at the same depth in the SA branch. Blocks after
    the first T run as plain SA.

    Our choices where the paper is silent: the partner's keys and values come
    from the partner's SA stream (its clean tokens at each depth) and carry no
    gradient: ``DCAL`` computes them under ``no_grad``, so the partner is
    context only and the shared weights learn through the target's stream.
    This also spares the partner's backward pass.

    Args:
        num_blocks (int, optional): T. Defaults to all blocks (T = 12 for
            the 12-block backbones, as in the paper).
        init_cfg (dict, optional): Unused; kept for the MM module contract.
    """

    def __init__(self, num_blocks: Optional[int] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_blocks is not None and num_blocks < 1:
            raise ValueError(f'PWCA num_blocks must be >= 1, got {num_blocks}')
        self.num_blocks = num_blocks

    def forward(self, blocks: nn.ModuleList, x: Tensor, partner_kv: List[Tuple[Tensor, Tensor]]) -> Tensor:
        """
        Args:
            blocks (nn.ModuleList): The backbone's :class:`DCALBlock` list.
            x (Tensor): Embedded target tokens, shape (B, 1 + N, C).
            partner_kv (list[tuple[Tensor, Tensor]]): The partner's keys and
                values in each of the first T blocks, from
                ``DCALViT.forward_partner_kv``.

        Returns:
            Tensor: Target tokens after all blocks (before the final norm),
            shape (B, 1 + N, C).
        """
        num_pair = self.num_blocks or len(blocks)
        if num_pair > len(blocks):
            raise ValueError(f'PWCA num_blocks={num_pair} exceeds the backbone depth {len(blocks)}')
        if len(partner_kv) < num_pair:
            raise ValueError(f'PWCA needs partner keys/values for {num_pair} blocks, got {len(partner_kv)}')
        for i, blk in enumerate(blocks):
            x = blk.forward_pair(x, partner_kv[i]) if i < num_pair else blk(x)
        return x
