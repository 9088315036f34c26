# Copyright (c) OpenMMLab. All rights reserved.
from typing import Tuple

import torch
import torch.nn as nn


class BNNeck(nn.Module):
    """BNNeck of the Re-ID "bag of tricks" (Luo et al., CVPR-W 2019).

    A ``BatchNorm1d`` whose bias is fixed at zero (not trained), followed by a
    bias-free linear identity classifier. The triplet loss is meant to use the
    feature *before* the BN and the ID loss the logits computed *after* it.
    Used by the RGA Re-ID head and reusable by any Re-ID head (e.g. one BNNeck
    per DCAL branch).

    Initialisation (as TransReID and RGA): BN weight 1 and bias 0 (frozen),
    classifier weight ``N(0, 0.001^2)``. It is applied in the constructor and
    again by :meth:`reset_parameters`.

    Args:
        in_channels (int): Feature dimension C.
        num_classes (int): Number of training identities.

    Example:
        >>> neck = BNNeck(2048, 751)
        >>> bn_feat, logits = neck(torch.randn(8, 2048))
        >>> bn_feat.shape, logits.shape
        (torch.Size([8, 2048]), torch.Size([8, 751]))
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        if in_channels <= 0 or num_classes <= 0:
            raise ValueError(f'BNNeck: in_channels and num_classes must be positive, got {in_channels} '
                             f'and {num_classes}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.bn = nn.BatchNorm1d(in_channels)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(in_channels, num_classes, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-apply the initialisation described in the class docstring."""
        self.bn.reset_parameters()
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, feats: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Forward.

        Args:
            feats (torch.Tensor): Features of shape (B, C).

        Returns:
            tuple[torch.Tensor]: ``(bn_feat, logits)`` of shapes (B, C) and
            (B, num_classes).
        """
        if feats.dim() != 2 or feats.size(1) != self.in_channels:
            raise ValueError(f'BNNeck expects features of shape (B, {self.in_channels}), got {tuple(feats.shape)}')
        bn_feat = self.bn(feats)
        return bn_feat, self.classifier(bn_feat)
