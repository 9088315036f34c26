# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Tuple

from timm.models.vision_transformer import Block
from torch import Tensor

from .attention import cross_attention, key_value, pair_attention, self_attention, self_attention_kv


class DCALBlock(Block):
    """timm's pre-norm ViT block with the three attentions of DCAL.

    The parameters (and so the state-dict keys) are exactly timm's ``Block``;
    the extra forwards reuse them:

    * :meth:`forward_sa` - self-attention, optionally returning the attention
      map for rollout;
    * :meth:`forward_pair` - PWCA: the same weights, keys/values of the
      target and its partner;
    * :meth:`forward_cross` - GLCA: selected queries attend to all tokens.
    """

    def _ffn(self, x: Tensor) -> Tensor:
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))

    def forward_sa(self, x: Tensor, return_attn: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        """SA block.

        Args:
            x (Tensor): Tokens, shape (B, N, C).
            return_attn (bool): Also return the head-averaged attention map.

        Returns:
            tuple: Tokens (B, N, C) and the map (B, N, N) or None.
        """
        y, attn = self_attention(self.attn, self.norm1(x), return_probs=return_attn)
        return self._ffn(x + self.drop_path1(self.ls1(y))), attn

    def partner_kv(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Keys and values this block's attention gives a partner's tokens.

        Args:
            x (Tensor): Partner tokens entering the block, shape (B, M, C).

        Returns:
            tuple[Tensor, Tensor]: Each (B, heads, M, C / heads).
        """
        return key_value(self.attn, self.norm1(x))

    def forward_with_kv(self, x: Tensor) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        """SA block that also returns the keys and values it computed (what a
        partner image gives PWCA), so the partner pass projects once.

        Args:
            x (Tensor): Tokens, shape (B, N, C).

        Returns:
            tuple: Tokens after the block (B, N, C) and (keys, values).
        """
        y, kv = self_attention_kv(self.attn, self.norm1(x))
        return self._ffn(x + self.drop_path1(self.ls1(y))), kv

    def forward_pair(self, x: Tensor, partner_kv: Tuple[Tensor, Tensor]) -> Tensor:
        """PWCA block (shares every weight with the SA block).

        Args:
            x (Tensor): Target tokens, shape (B, N, C).
            partner_kv (tuple[Tensor, Tensor]): The partner's keys and values
                at the same depth, from :meth:`partner_kv`.

        Returns:
            Tensor: Target tokens after the block, shape (B, N, C).
        """
        y = pair_attention(self.attn, self.norm1(x), partner_kv)
        return self._ffn(x + self.drop_path1(self.ls1(y)))

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
