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
    [K1; K2], [V1; V2], K2 and V2 being the partner's keys/values at the
    same depth. Blocks after the first T run as plain SA.

    Our choices where the paper is silent (it computes Q, K, V "separately
    for both images" and says nothing of the stream or of a stop-gradient):

    * partners come from the same batch (the paper samples "two images from
      the same training set"; an in-batch partner is the same distribution
      without a second forward or image decode);
    * ``partner_stream``: the partner's keys/values come from its SA stream
      (``'sa'``) or from its own PWCA stream (``'pwca'``: every image of the
      batch is a target, so that stream exists at every depth too); either
      way no extra forward is needed;
    * ``detach_partner``: whether the gradient flows into the partner's
      keys/values;
    * in the first block the target's own projections are SA's (same
      tokens, same weights).

    The defaults follow the ablation in the README ("Ablation after
    pretraining"): see there for the evidence.

    Args:
        num_blocks (int, optional): T. Defaults to all blocks (T = 12 for
            the 12-block backbones, as in the paper).
        partner_policy (str): ``'random'`` (default, the paper's best),
            ``'intra'``, ``'inter'`` or ``'mixed'`` (Table 4 ablations; they
            need batches where every image has an allowed partner, e.g.
            ``PairSampler`` or ``PKSampler``).
        partner_stream (str): ``'sa'`` (default) or ``'pwca'``, see above.
        detach_partner (bool): Stop the gradient through the partner's
            keys/values. Defaults to False.
        with_cp (bool): Gradient checkpointing of each block of the target
            stream (its input is kept, the rest recomputed in the backward
            pass). :class:`DCAL` defaults it to the backbone's ``with_cp``.
        init_cfg (dict, optional): Unused; kept for the MM module contract.
    """
    PARTNER_STREAMS = ('sa', 'pwca')

    def __init__(self,
                 num_blocks: Optional[int] = None,
                 partner_policy: str = 'random',
                 partner_stream: str = 'sa',
                 detach_partner: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_blocks is not None and num_blocks < 1:
            raise ValueError(f'PWCA num_blocks must be >= 1, got {num_blocks}')
        if partner_policy not in PARTNER_POLICIES:
            raise ValueError(f'PWCA partner_policy must be one of {PARTNER_POLICIES}, got {partner_policy!r}')
        if partner_stream not in self.PARTNER_STREAMS:
            raise ValueError(f'PWCA partner_stream must be one of {self.PARTNER_STREAMS}, got {partner_stream!r}')
        if not isinstance(detach_partner, bool):
            raise ValueError(f'PWCA detach_partner must be True or False, got {detach_partner!r}')
        self.num_blocks = num_blocks
        self.partner_policy = partner_policy
        self.partner_stream = partner_stream
        self.detach_partner = detach_partner
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
            Tensor: The target's class token after all blocks (before the
            final norm), shape (B, 1, C). It is all the head reads, so the
            last block computes no other token's output (their keys and
            values, which the class token attends to, are still computed).
        """
        num_pair = self.num_blocks or len(blocks)
        if num_pair > len(blocks):
            raise ValueError(f'PWCA num_blocks={num_pair} exceeds the backbone depth {len(blocks)}')
        if len(sa_qkv) < num_pair:
            raise ValueError(f'PWCA needs SA keys/values for {num_pair} blocks, got {len(sa_qkv)}')
        partners = partners.to(x.device)
        last = len(blocks) - 1
        cls_index = x.new_zeros(x.shape[0], 1, dtype=torch.long)
        for i, blk in enumerate(blocks):
            with_cp = self.with_cp and torch.is_grad_enabled() and x.requires_grad
            if i >= num_pair:
                # the head reads the class token only: the last block computes no other
                args, fn = ((x, cls_index), blk.forward_cross) if i == last else ((x, ), blk.forward)
                x = checkpointed(blk, *args, fn=fn) if with_cp else fn(*args)
                continue
            # the partners' keys/values are the batch's own tensors (SA's, already kept for SA's backward, or this
            # stream's): the attention indexes them, it keeps no gathered copies
            partner_kv = sa_qkv[i][1:] if self.partner_stream == 'sa' else None
            args = (x, partner_kv, sa_qkv[0] if i == 0 else None, partners, self.detach_partner, i == last)
            x = checkpointed(blk, *args, fn=blk.forward_pair) if with_cp else blk.forward_pair(*args)
        return x
