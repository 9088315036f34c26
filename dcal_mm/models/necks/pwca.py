# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ..layers.attention import QKV
from ..utils import PARTNER_POLICIES, checkpointed


@MODELS.register_module()
class PWCA(BaseModule):
    """Pair-wise cross-attention branch (DCAL Eq. 4), training only.

    It owns no parameters: its T blocks are the SA blocks of the backbone
    (shared weights), run in their pair mode. Each image of the batch is a
    target; its partner is another image of the same batch
    (:func:`draw_partners`). The target stream starts from the target's
    embedded tokens and, in each of the first T blocks, attends to
    [K1; K2], [V1; V2], where the partner's keys/values are those its own SA
    pass computed at the same depth. Blocks after the first T run as plain
    SA.

    Our choices where the paper is silent: partners come from the same
    batch (the paper samples "two images from the same training set"; an
    in-batch partner is the same distribution without a second forward or
    image decode); the partner's keys and values are taken from its SA
    stream and detached, so the partner is context only and the shared
    weights learn through the target's stream; in the first block the
    target's own projections are SA's (same tokens, same weights).

    Args:
        num_blocks (int, optional): T. Defaults to all blocks (T = 12 for
            the 12-block backbones, as in the paper).
        partner_policy (str): ``'random'`` (default, the paper's best),
            ``'intra'``, ``'inter'`` or ``'mixed'`` (Table 4 ablations).
        with_cp (bool): Gradient checkpointing of each block of the target
            stream (its input is kept, the rest recomputed in the backward
            pass). :class:`DCAL` defaults it to the backbone's ``with_cp``.
        init_cfg (dict, optional): Unused; kept for the MM module contract.
    """

    def __init__(self,
                 num_blocks: Optional[int] = None,
                 partner_policy: str = 'random',
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_blocks is not None and num_blocks < 1:
            raise ValueError(f'PWCA num_blocks must be >= 1, got {num_blocks}')
        if partner_policy not in PARTNER_POLICIES:
            raise ValueError(f'PWCA partner_policy must be one of {PARTNER_POLICIES}, got {partner_policy!r}')
        self.num_blocks = num_blocks
        self.partner_policy = partner_policy
        self.with_cp = with_cp

    def forward(self, blocks: nn.ModuleList, x: Tensor, sa_qkv: List[QKV], partners: Tensor) -> Tensor:
        """
        Args:
            blocks (nn.ModuleList): The backbone's :class:`DCALBlock` list.
            x (Tensor): Embedded tokens of the batch, shape (B, 1 + N, C).
            sa_qkv (list[tuple]): Each SA block's (q, k, v) for the batch,
                each (B, heads, 1 + N, C / heads), from
                ``DCALViT.forward_tokens(..., return_qkv=True)``.
            partners (Tensor): Index of each image's partner in the batch,
                shape (B, ).

        Returns:
            Tensor: Target tokens after all blocks (before the final norm),
            shape (B, 1 + N, C).
        """
        num_pair = self.num_blocks or len(blocks)
        if num_pair > len(blocks):
            raise ValueError(f'PWCA num_blocks={num_pair} exceeds the backbone depth {len(blocks)}')
        if len(sa_qkv) < num_pair:
            raise ValueError(f'PWCA needs SA keys/values for {num_pair} blocks, got {len(sa_qkv)}')
        partners = partners.to(x.device)
        for i, blk in enumerate(blocks):
            with_cp = self.with_cp and torch.is_grad_enabled() and x.requires_grad
            if i >= num_pair:
                x = checkpointed(blk, x) if with_cp else blk(x)
                continue
            _, k, v = sa_qkv[i]
            # the partners' keys/values stay the batch's own SA tensors (already kept for SA's backward):
            # the attention indexes them, it keeps no gathered copies
            args = (x, (k.detach(), v.detach()), sa_qkv[0] if i == 0 else None, partners)
            x = checkpointed(blk, *args, fn=blk.forward_pair) if with_cp else blk.forward_pair(*args)
        return x
