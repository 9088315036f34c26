# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..losses import UncertaintyWeighting


class DCALFeatures(NamedTuple):
    """Per-branch class tokens, each (B, C); a missing branch is None."""
    sa: Tensor
    glca: Optional[Tensor] = None
    pwca: Optional[Tensor] = None


@MODELS.register_module()
class DCALClsHead(ClsHead):
    """FGVC head of DCAL: a linear classifier per branch.

    SA and GLCA have their own classifiers; PWCA shares SA's (it shares all
    SA weights). Each branch's loss is ``loss``; the branch losses are
    combined by :class:`UncertaintyWeighting` (``loss_weighting='dynamic'``,
    the paper's) or summed (``'sum'``). With only the SA branch (the
    baseline) the loss is the plain SA loss.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Feature width C.
        with_glca (bool): Build the GLCA classifier.
        with_pwca (bool): Expect a PWCA feature in training.
        loss (dict): Per-branch loss, e.g. ``CrossEntropyLoss`` or
            ``LabelSmoothLoss`` for label smoothing.
        loss_weighting (str): ``'dynamic'`` or ``'sum'``.
        predict_mode (str): ``'sum'`` (default, the paper: softmax(SA) +
            softmax(GLCA), reported halved so scores sum to 1), ``'sa'``
            (SA only; the classifier then skips GLCA and the rollout) or
            ``'glca'``.
        topk (Sequence[int]): Top-k accuracies logged when ``cal_acc``.
        cal_acc (bool): Log training accuracy of the SA branch.
        init_cfg (dict): Initialisation of the classifiers.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 with_glca: bool = True,
                 with_pwca: bool = True,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 loss_weighting: str = 'dynamic',
                 predict_mode: str = 'sum',
                 topk: Sequence[int] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = dict(type='Normal', layer='Linear', std=0.01)) -> None:
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'DCALClsHead num_classes must be positive, got {num_classes}')
        if loss_weighting not in ('dynamic', 'sum'):
            raise ValueError(f"DCALClsHead loss_weighting must be 'dynamic' or 'sum', got {loss_weighting!r}")
        valid_modes = ('sum', 'sa', 'glca') if with_glca else ('sa', )
        if predict_mode not in valid_modes:
            raise ValueError(f'DCALClsHead predict_mode must be one of {valid_modes} (with_glca={with_glca}), '
                             f'got {predict_mode!r}')
        self.num_classes = num_classes
        self.with_glca = with_glca
        self.with_pwca = with_pwca
        self.predict_mode = predict_mode
        self.branches = ['sa'] + (['glca'] if with_glca else []) + (['pwca'] if with_pwca else [])
        self.sa_fc = nn.Linear(in_channels, num_classes)
        self.glca_fc = nn.Linear(in_channels, num_classes) if with_glca else None
        self.loss_weighting = UncertaintyWeighting(len(self.branches)) \
            if loss_weighting == 'dynamic' and len(self.branches) > 1 else None

    @property
    def needs_glca(self) -> bool:
        """Whether prediction uses the GLCA branch."""
        return self.predict_mode in ('sum', 'glca')

    def pre_logits(self, feats: DCALFeatures) -> Tensor:
        """The class tokens the prediction reads, as one feature
        (``DCAL.extract_feat(stage='pre_logits')``).

        Args:
            feats (DCALFeatures): Per-branch class tokens, each (B, C).

        Returns:
            Tensor: concat(SA, GLCA) (B, 2C) for ``predict_mode='sum'``, else
            the one branch's token (B, C).
        """
        feats = DCALFeatures(*feats)  # also the (sa, [glca]) tuple of DCAL.extract_feat
        names = {'sum': ('sa', 'glca'), 'sa': ('sa', ), 'glca': ('glca', )}[self.predict_mode]
        missing = [n for n in names if getattr(feats, n) is None]
        if missing:
            raise ValueError(f'DCALClsHead predict_mode={self.predict_mode!r} needs the {missing} class tokens, '
                             'got None')
        return torch.cat([getattr(feats, n) for n in names], dim=1)

    def forward(self, feats: DCALFeatures) -> Dict[str, Tensor]:
        """
        Args:
            feats (DCALFeatures): Per-branch class tokens, each (B, C).

        Returns:
            dict[str, Tensor]: Logits (B, num_classes) of each present branch.
        """
        feats = DCALFeatures(*feats)  # also the (sa, [glca]) tuple of DCAL.extract_feat
        logits = {'sa': self.sa_fc(feats.sa)}
        if feats.glca is not None:
            logits['glca'] = self.glca_fc(feats.glca)
        if feats.pwca is not None:
            logits['pwca'] = self.sa_fc(feats.pwca)
        return logits

    def loss(self, feats: DCALFeatures, data_samples: List[DataSample], **kwargs) -> dict:
        """Weighted branch losses; logs ``{branch}_ce`` and ``{branch}_w``."""
        logits = self.forward(feats)
        if list(logits) != self.branches:
            raise ValueError(f'DCALClsHead expected branches {self.branches} in training, got {list(logits)}')
        if 'gt_score' in data_samples[0]:
            target = torch.stack([i.gt_score for i in data_samples])
        else:
            target = torch.cat([i.gt_label for i in data_samples])
        if target.ndim == 1 and int(target.max()) >= self.num_classes:
            raise ValueError(f'label {int(target.max())} is out of range for num_classes={self.num_classes}; '
                             'num_classes must match the dataset')
        branch_losses = [self.loss_module(logits[b], target, avg_factor=target.shape[0], **kwargs)
                         for b in self.branches]
        losses = {f'{b}_ce': v.detach() for b, v in zip(self.branches, branch_losses)}
        if self.loss_weighting is not None:
            losses['loss'] = self.loss_weighting(branch_losses)
            for b, w in zip(self.branches, self.loss_weighting.loss_log_vars.detach()):
                losses[f'{b}_w'] = w
        else:
            losses['loss'] = sum(branch_losses)
        if self.cal_acc and target.ndim == 1:
            for k, a in zip(self.topk, Accuracy.calculate(logits['sa'], target, topk=self.topk)):
                losses[f'accuracy_top-{k}'] = a
        return losses

    def predict(self, feats: DCALFeatures, data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        """Class scores by ``predict_mode``."""
        return self._set_predictions(self.predict_scores(feats), data_samples)

    def predict_scores(self, feats: DCALFeatures) -> Tensor:
        """The ``pred_score`` of every image as one tensor.

        Args:
            feats (DCALFeatures): Per-branch class tokens, each (B, C).

        Returns:
            Tensor: Class probabilities (B, num_classes), rows summing to 1.
        """
        feats = DCALFeatures(*feats)  # also the (sa, [glca]) tuple of DCAL.extract_feat
        logits = self.forward(DCALFeatures(feats.sa, feats.glca if self.needs_glca else None))
        if self.predict_mode == 'sa':
            return logits['sa'].softmax(dim=1)
        if self.predict_mode == 'glca':
            return logits['glca'].softmax(dim=1)
        return 0.5 * (logits['sa'].softmax(dim=1) + logits['glca'].softmax(dim=1))

    def _set_predictions(self, scores: Tensor, data_samples: Optional[List[DataSample]]) -> List[DataSample]:
        labels = scores.argmax(dim=1, keepdim=True).detach()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.size(0))]
        for ds, score, label in zip(data_samples, scores, labels):
            ds.set_pred_score(score).set_pred_label(label)
        return data_samples
