# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..layers import BNNeck


def set_pred_features(features: torch.Tensor,
                      data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
    """Store each row of ``features`` (B, D) as ``pred_feature`` of its
    DataSample (created when missing), as :class:`ReIDMetric` reads it."""
    if data_samples is None:
        data_samples = [None] * features.size(0)
    results = []
    for sample, vec in zip(data_samples, features):
        sample = DataSample() if sample is None else sample
        sample.set_field(vec, 'pred_feature')
        results.append(sample)
    return results


@MODELS.register_module()
class ReIDHead(BaseModule):
    """Single-branch Re-ID head: BNNeck + ID loss + triplet loss.

    The feature ``f`` (the last item of the backbone/neck tuple, shape
    (B, C)) feeds the triplet loss; ``BN(f)`` goes through a bias-free
    classifier whose logits feed the ID loss (BNNeck, as in RGA, BoT and
    TransReID). At test time the feature before the BN (default) or after it
    is stored as ``pred_feature`` on each :class:`DataSample`.

    Label smoothing: use ``loss=dict(type='LabelSmoothLoss',
    label_smooth_val=0.1, mode='original')`` (mmpretrain), which is the
    ``(1 - eps) * onehot + eps / K`` target of RGA and TransReID.

    Args:
        num_classes (int): Number of training identities.
        in_channels (int): Feature dimension C. Defaults to 2048.
        loss (dict): ID loss config. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        loss_triplet (dict, optional): Triplet loss config (see
            :class:`TripletLoss`), ``None`` to disable. Defaults to the soft
            margin ``dict(type='TripletLoss', margin=None, loss_weight=1.0)``.
        neck_feat (str): ``'before'`` or ``'after'`` the BN: the feature
            returned by :meth:`predict`. Defaults to ``'before'``.
        topk (int | Sequence[int]): Top-k ID accuracies logged when
            ``cal_acc``. Defaults to ``(1, )``.
        cal_acc (bool): Log the ID accuracy of the training batch.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config. The BNNeck
            initialises itself. Defaults to None.
    """

    def __init__(self, num_classes: int, in_channels: int = 2048,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 loss_triplet: Optional[dict] = dict(type='TripletLoss', margin=None, loss_weight=1.0),
                 neck_feat: str = 'before', topk: Union[int, Sequence[int]] = (1, ), cal_acc: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if neck_feat not in ('before', 'after'):
            raise ValueError(f"ReIDHead: neck_feat must be 'before' or 'after', got {neck_feat!r}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.neck_feat = neck_feat
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        self.cal_acc = cal_acc
        self.bnneck = BNNeck(in_channels, num_classes)
        self.loss_module = loss if isinstance(loss, torch.nn.Module) else MODELS.build(loss)
        if loss_triplet is None or isinstance(loss_triplet, torch.nn.Module):
            self.loss_triplet = loss_triplet
        else:
            self.loss_triplet = MODELS.build(loss_triplet)

    def pre_logits(self, feats: Union[torch.Tensor, Tuple[torch.Tensor]]) -> torch.Tensor:
        """The global feature: the last item of ``feats``.

        Args:
            feats (tuple[torch.Tensor] | torch.Tensor): Backbone/neck
                outputs, the last one of shape (B, C); or that tensor.

        Returns:
            torch.Tensor: Feature of shape (B, C).
        """
        feat = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if feat.dim() != 2 or feat.size(1) != self.in_channels:
            raise ValueError(f'ReIDHead expects a pooled feature of shape (B, {self.in_channels}) as the last '
                             f'input, got {tuple(feat.shape)}; add a pooling neck or fix in_channels')
        return feat

    def forward(self, feats: Tuple[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Forward.

        Args:
            feats (tuple[torch.Tensor]): Backbone/neck outputs.

        Returns:
            tuple[torch.Tensor]: ``(feat, bn_feat, logits)`` of shapes (B, C),
            (B, C) and (B, num_classes).
        """
        feat = self.pre_logits(feats)
        bn_feat, logits = self.bnneck(feat)
        return feat, bn_feat, logits

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample], **kwargs) -> dict:
        """Compute the ID and triplet losses.

        Args:
            feats (tuple[torch.Tensor]): Backbone/neck outputs.
            data_samples (list[DataSample]): Samples with ``gt_label``
                (training identity, 0..num_classes-1).
            **kwargs: Passed to the ID loss.

        Returns:
            dict[str, torch.Tensor]: ``loss_id``, ``loss_triplet`` (when
            enabled) and ``accuracy_top-k`` (when ``cal_acc``).
        """
        feat, _, logits = self(feats)
        if 'gt_label' not in data_samples[0]:
            raise ValueError('ReIDHead.loss needs gt_label on every DataSample (batch augments that replace labels '
                             'by gt_score are not supported for Re-ID)')
        target = torch.cat([s.gt_label for s in data_samples]).to(logits.device)
        losses = dict(loss_id=self.loss_module(logits, target, avg_factor=logits.size(0), **kwargs))
        if self.loss_triplet is not None:
            losses['loss_triplet'] = self.loss_triplet(feat, target)
        if self.cal_acc:
            acc = Accuracy.calculate(logits, target, topk=self.topk)
            losses.update({f'accuracy_top-{k}': a for k, a in zip(self.topk, acc)})
        return losses

    def predict(self, feats: Tuple[torch.Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        """Extract the retrieval feature.

        Args:
            feats (tuple[torch.Tensor]): Backbone/neck outputs.
            data_samples (list[DataSample | None], optional): Samples to fill;
                new ones are created when None. Defaults to None.

        Returns:
            list[DataSample]: Samples with ``pred_feature`` (shape (C, )).
        """
        return set_pred_features(self.predict_features(feats).detach(), data_samples)

    def predict_features(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The retrieval feature that :meth:`predict` stores as
        ``pred_feature`` (``ReIDClassifier.extract_feat(stage='pre_logits')``).

        Args:
            feats (tuple[torch.Tensor]): Backbone/neck outputs.

        Returns:
            torch.Tensor: (B, C), before or after the BN by ``neck_feat``.
        """
        feat, bn_feat, _ = self(feats)
        return feat if self.neck_feat == 'before' else bn_feat
