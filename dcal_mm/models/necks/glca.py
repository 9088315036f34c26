# Copyright (c) OpenMMLab. All rights reserved.
import math
from functools import partial
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from timm.models.vision_transformer import init_weights_vit_timm
from torch import Tensor, nn

from ..layers import DCALBlock
from ..utils import checkpointed


@MODELS.register_module()
class GLCA(BaseModule):
    """Global-local cross-attention (DCAL Eq. 3).

    The top-R patch tokens by a token score (the CLS row of the attention
    rollout by default) form the local queries; keys and values are all
    tokens. It is a full transformer block (cross-attention + MLP) with its
    own weights and its own final norm.

    The feature depends on the selection (``readout='mean'``, the default):
    it is the mean of the R local query outputs after GLCA's norm; CLS is
    not a query, as in public re-implementations. With ``readout='cls'``
    (kept for ablation) CLS joins the queries and its output is the
    feature; that feature is **selection-invariant** - attention rows, the
    MLP and the norms act per token, so the CLS output depends only on CLS
    and the global keys/values - and GLCA then degenerates to an unshared
    copy of the last block. The mean readout was chosen from the demo
    ablation (README, "Ablation on the demo sets").

    Our choices where the paper is silent (documented defaults):
    R = ``floor(top_ratio * N)`` over the N patch tokens with a minimum of
    1; initialisation from the backbone's last SA block when pretrained
    weights are loaded (done by the :class:`DCAL` classifier), else timm's
    ViT initialisation (truncated normal, std 0.02; zero biases).

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Attention heads.
        top_ratio (float): R as a fraction of the patch tokens, in (0, 1].
            Defaults to 0.1 (FGVC); the paper uses 0.3 for Re-ID.
        selection (str): How the local queries are chosen: ``'rollout'``
            (default, the paper: top-R of the rollout's CLS row),
            ``'last'`` (top-R of the CLS attention of the last block before
            GLCA alone, the paper's "penultimate layer" ablation) or
            ``'random'`` (R random patches per image, an ablation).
        readout (str): ``'mean'`` (default) or ``'cls'``, see above.
        mlp_ratio (float): MLP hidden width / C.
        qkv_bias (bool): Bias in the qkv projection.
        drop_path_rate (float): Stochastic depth of the block. :class:`DCAL`
            sets it to the backbone's ``drop_path_rate`` unless given.
        init_from_backbone (bool): Copy the last SA block and final norm when
            the backbone loads pretrained weights.
        with_cp (bool): Gradient checkpointing of the block (only the input
            tokens are kept; the block is recomputed in the backward pass).
            :class:`DCAL` defaults it to the backbone's ``with_cp``.
        init_cfg (dict, optional): Initialisation config; None means timm's
            ViT initialisation.
    """
    SELECTIONS = ('rollout', 'last', 'random')
    READOUTS = ('mean', 'cls')

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 top_ratio: float = 0.1,
                 selection: str = 'rollout',
                 readout: str = 'mean',
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.,
                 init_from_backbone: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0. < top_ratio <= 1.:
            raise ValueError(f'GLCA top_ratio must be in (0, 1], got {top_ratio}')
        if selection not in self.SELECTIONS:
            raise ValueError(f'GLCA selection must be one of {self.SELECTIONS}, got {selection!r}')
        if readout not in self.READOUTS:
            raise ValueError(f'GLCA readout must be one of {self.READOUTS}, got {readout!r}')
        self.top_ratio = top_ratio
        self.selection = selection
        self.readout = readout
        self.init_from_backbone = init_from_backbone
        self.with_cp = with_cp
        self.block = DCALBlock(
            embed_dims, num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path=drop_path_rate,
            norm_layer=partial(nn.LayerNorm, eps=1e-6))
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)

    @property
    def score_mode(self) -> str:
        """The token scores the backbone must provide (``DCALViT.forward_tokens``)."""
        return {'rollout': 'rollout', 'last': 'last', 'random': 'none'}[self.selection]

    def init_weights(self) -> None:
        """timm's ViT initialisation unless ``init_cfg`` says otherwise."""
        if self.init_cfg is None:
            self.block.apply(init_weights_vit_timm)
        else:
            super().init_weights()

    def num_selected(self, num_patches: int) -> int:
        """R for a sequence of ``num_patches`` patch tokens."""
        return max(1, math.floor(self.top_ratio * num_patches))

    @torch.no_grad()
    def select(self, scores: Tensor) -> Tensor:
        """Indices of the query tokens.

        Args:
            scores (Tensor): Token scores, shape (B, 1 + N), e.g. the CLS row
                of the rollout (random numbers for ``selection='random'``).

        Returns:
            Tensor: Token indices, shape (B, R) in descending score order, with
            CLS (index 0) prepended for ``readout='cls'``.
        """
        patch_scores = scores[:, 1:]
        top = patch_scores.topk(self.num_selected(patch_scores.shape[1]), dim=1).indices + 1
        if self.readout == 'mean':
            return top
        return torch.cat([top.new_zeros(top.shape[0], 1), top], dim=1)

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor]:
        """
        Args:
            inputs (tuple): Backbone outputs ``(sa_feat, tokens, scores)``
                with tokens (B, 1 + N, C) and scores (B, 1 + N) or None
                (random selection).

        Returns:
            tuple[Tensor]: The GLCA feature, shape (B, C).
        """
        if len(inputs) != 3:
            raise ValueError('GLCA expects the backbone outputs (sa_feat, tokens, scores); '
                             'build DCALViT with with_rollout=True')
        _, tokens, scores = inputs
        if scores is None and self.selection != 'random':
            raise ValueError(f"GLCA selection={self.selection!r} needs token scores; run the backbone with "
                             f"score_mode={self.score_mode!r}")
        if self.selection == 'random':
            scores = torch.rand(tokens.shape[:2], device=tokens.device)
        index = self.select(scores)
        if self.with_cp and torch.is_grad_enabled() and tokens.requires_grad:
            x = checkpointed(self.block, tokens, index, fn=self.block.forward_cross)
        else:
            x = self.block.forward_cross(tokens, index)
        x = self.norm(x)
        return (x[:, 0] if self.readout == 'cls' else x.mean(dim=1), )

    @torch.no_grad()
    def init_from_block(self, block: nn.Module, norm: nn.Module) -> None:
        """Copy a pretrained SA block and final norm into GLCA."""
        self.block.load_state_dict(block.state_dict())
        self.norm.load_state_dict(norm.state_dict())
