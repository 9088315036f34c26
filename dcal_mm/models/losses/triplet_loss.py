# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS


def euclidean_distance(feats: torch.Tensor) -> torch.Tensor:
    """Pairwise Euclidean distance of a batch of features.

    Args:
        feats (torch.Tensor): Features of shape (B, C).

    Returns:
        torch.Tensor: Distances of shape (B, B). Squared distances are
        clamped at 1e-12 before the square root so the gradient stays finite
        for identical features.
    """
    sq = feats.pow(2).sum(dim=1, keepdim=True)
    dist = sq + sq.t() - 2 * feats @ feats.t()
    return dist.clamp(min=1e-12).sqrt()


def hard_example_mining(dist: torch.Tensor, labels: torch.Tensor) -> tuple:
    """Hardest positive and hardest negative distance for every anchor.

    Args:
        dist (torch.Tensor): Pairwise distances of shape (B, B).
        labels (torch.Tensor): Identity labels of shape (B, ).

    Returns:
        tuple[torch.Tensor]: ``(dist_ap, dist_an, pos_idx, neg_idx)``, each of
        shape (B, ): the largest distance to another sample of the same
        identity, the smallest distance to a sample of another identity, and
        the indices of those samples.
    """
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    is_pos = same & ~eye
    is_neg = ~same
    no_pos = ~is_pos.any(dim=1)
    if no_pos.any():
        idx = int(no_pos.nonzero()[0])
        raise ValueError(f'TripletLoss: anchor {idx} (label {int(labels[idx])}) has no other sample of its identity '
                         f'in the batch of {len(labels)}; sample several instances per identity (e.g. PKSampler)')
    no_neg = ~is_neg.any(dim=1)
    if no_neg.any():
        raise ValueError(f'TripletLoss: all {len(labels)} samples of the batch have label {int(labels[0])}, '
                         'so there is no negative; a batch needs at least two identities')
    # Masked-out entries can never win the max (-inf) or the min (+inf).
    inf = torch.finfo(dist.dtype).max
    dist_ap, pos_idx = dist.masked_fill(~is_pos, -inf).max(dim=1)
    dist_an, neg_idx = dist.masked_fill(~is_neg, inf).min(dim=1)
    return dist_ap, dist_an, pos_idx, neg_idx


@MODELS.register_module()
class TripletLoss(nn.Module):
    """Batch-hard triplet loss (Hermans et al., "In Defense of the Triplet
    Loss for Person Re-Identification", 2017).

    For every anchor ``i`` of the batch, the hardest positive is the sample of
    the same identity (other than ``i``) farthest from it and the hardest
    negative is the sample of another identity closest to it, in Euclidean
    distance. With ``d_ap`` and ``d_an`` those two distances, the loss of the
    anchor is

    - soft margin (``margin=None``, default): ``softplus(d_ap - d_an)``, i.e.
      ``nn.SoftMarginLoss`` on ``d_an - d_ap`` with target 1 (TransReID
      ``NO_MARGIN: True``, used by the DCAL Re-ID recipe);
    - fixed margin (``margin=m``): ``relu(d_ap - d_an + m)``, i.e.
      ``nn.MarginRankingLoss(margin=m)`` (RGA and BoT use ``m=0.3``).

    The batch loss is the mean over anchors times ``loss_weight``. Only the
    anchor and its two mined samples receive gradient from each term.
    Unlike the open-reid code we exclude the anchor itself from its positives,
    so a batch where an identity has a single sample is an error rather than
    a silent zero-distance positive.

    Args:
        margin (float, optional): Margin of the ranking loss; ``None`` selects
            the soft margin. Defaults to None.
        normalize_feature (bool): L2-normalise the features before computing
            distances. Defaults to False.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, margin: Optional[float] = None, normalize_feature: bool = False,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if margin is not None and margin < 0:
            raise ValueError(f'TripletLoss: margin must be >= 0 or None (soft margin), got {margin}')
        self.margin = margin
        self.normalize_feature = normalize_feature
        self.loss_weight = loss_weight

    def forward(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            feats (torch.Tensor): Features of shape (B, C).
            labels (torch.Tensor): Identity labels of shape (B, ).

        Returns:
            torch.Tensor: The scalar loss.
        """
        if feats.dim() != 2:
            raise ValueError(f'TripletLoss expects features of shape (B, C), got {tuple(feats.shape)}')
        labels = labels.reshape(-1)
        if labels.numel() != feats.size(0):
            raise ValueError(f'TripletLoss: {labels.numel()} labels for {feats.size(0)} features')
        # At least float32 and outside autocast: |a|^2 + |b|^2 - 2ab in fp16 loses small distances or overflows.
        feats = feats.to(torch.promote_types(feats.dtype, torch.float32))
        with torch.autocast(device_type=feats.device.type, enabled=False):
            if self.normalize_feature:
                feats = F.normalize(feats, dim=1)
            dist = euclidean_distance(feats)
        dist_ap, dist_an, _, _ = hard_example_mining(dist, labels)
        if self.margin is None:
            loss = F.softplus(dist_ap - dist_an)
        else:
            loss = F.relu(dist_ap - dist_an + self.margin)
        return self.loss_weight * loss.mean()

    def extra_repr(self) -> str:
        return f'margin={self.margin}, normalize_feature={self.normalize_feature}, loss_weight={self.loss_weight}'
