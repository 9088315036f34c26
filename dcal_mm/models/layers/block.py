# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Tuple

from timm.models.vision_transformer import Block
from torch import Tensor

from .attention import QKV, cross_attention, pair_attention, self_attention


class DCALBlock(Block):
    """timm's pre-norm ViT block with the three attentions of DCAL.

    The parameters (and so the state-dict keys) are exactly timm's ``Block``;
    the extra forwards reuse them:

    * :meth:`forward_sa` - self-attention, optionally returning the attention
      map for rollout and the projections for PWCA;
    * :meth:`forward_pair` - PWCA: the same weights, keys/values of the
      target and its partner;
    * :meth:`forward_cross` - GLCA: selected queries attend to all tokens.
    """

    def _ffn(self, x: Tensor) -> Tensor:
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))

    def forward_sa(self, x: Tensor, return_attn: bool = False) -> Tuple[Tensor, Optional[Tensor], QKV]:
        """SA block.

        Args:
            x (Tensor): Tokens, shape (B, N, C).
            return_attn (bool): Also return the head-averaged attention map.

        Returns:
            tuple: Tokens (B, N, C), the map (B, N, N) or None, and the
            block's (q, k, v), each (B, heads, N, C / heads).
        """
        y, attn, qkv = self_attention(self.attn, self.norm1(x), return_probs=return_attn)
        return self._ffn(x + self.drop_path1(self.ls1(y))), attn, qkv

    def forward_pair(self,
                     x: Tensor,
                     partner_kv: Optional[Tuple[Tensor, Tensor]] = None,
                     qkv: Optional[QKV] = None,
                     partners: Optional[Tensor] = None,
                     detach_partner: bool = False,
                     cls_only: bool = False) -> Tensor:
        """PWCA block (shares every weight with the SA block).

        Args:
            x (Tensor): Target tokens, shape (B, N, C).
            partner_kv (tuple[Tensor, Tensor], optional): The keys and values
                (B', heads, M, C / heads) that ``partners`` indexes, e.g. the
                batch's SA keys/values at the same depth; None: those of
                ``x`` itself (partners from the same stream).
            qkv (tuple, optional): The target's own (q, k, v) for these very
                tokens, when SA already computed them (first block).
            partners (Tensor, optional): Index of each target's partner into
                the keys/values, shape (B, ).
            detach_partner (bool): No gradient through the partner's
                keys/values.
            cls_only (bool): Compute the class token's output only (it still
                attends to all tokens of both images).

        Returns:
            Tensor: Target tokens after the block, shape (B, N, C), or
            (B, 1, C) with ``cls_only``.
        """
        y = pair_attention(self.attn, self.norm1(x) if qkv is None else None, partner_kv, qkv=qkv, partners=partners,
                           detach_partner=detach_partner, cls_only=cls_only)
        return self._ffn((x[:, :1] if cls_only else x) + self.drop_path1(self.ls1(y)))

    def forward_cross(self, x: Tensor, index: Tensor) -> Tensor:
        """GLCA block: the tokens at ``index`` attend to all tokens of ``x``.

        Args:
            x (Tensor): Tokens, shape (B, N, C).
            index (Tensor): Indices of the query tokens, shape (B, R).

        Returns:
            Tensor: The selected tokens after the block, shape (B, R, C).
        """
        x_norm = self.norm1(x)
        gather_index = index.unsqueeze(-1).expand(-1, -1, x.shape[-1])
        x_sel = x.gather(1, gather_index)
        y = cross_attention(self.attn, x_norm.gather(1, gather_index), x_norm)
        return self._ffn(x_sel + self.drop_path1(self.ls1(y)))
