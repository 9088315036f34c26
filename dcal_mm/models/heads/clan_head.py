# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

_COMBINE_MODES = ('prob_mean', 'logit_sum')


@MODELS.register_module()
class CLANHead(ClsHead):
    """A linear classifier per CLAN branch, trained with summed losses.

    The loss is the paper's ``sum_b CE(FC_b(f_b), y)`` over all branches (the
    ``loss`` config is applied to each branch with the same weight). The
    prediction combines the branches ("obtained by combining the outputs at
    each branch"); how is our choice, see ``combine``.

    Args:
        num_classes (int): Number of classes.
        in_channels (Sequence[int]): Feature channels of each branch, in the
            order of :class:`CLANNeck`'s outputs.
        loss (dict): Per-branch classification loss, e.g.
            ``dict(type='CrossEntropyLoss')`` or, for label smoothing,
            ``dict(type='LabelSmoothLoss', label_smooth_val=0.1)``.
        combine (str): ``'prob_mean'``: the mean of the branches' softmax
            probabilities (default, our choice); ``'logit_sum'``: softmax of
            the summed logits.
        branch_names (Sequence[str], optional): Names used in the loss keys
            ``loss_<name>``. Defaults to ``mid1, ..., mid<N-1>, top, fused``
            (the CLANNeck order).
        topk (int | tuple[int]): Top-k accuracy when ``cal_acc``.
        cal_acc (bool): Log the combined prediction's training accuracy.
        init_cfg (dict, optional): Defaults to ``Normal(Linear, std=0.01)``
            as :class:`mmpretrain.models.LinearClsHead`.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: Sequence[int],
        loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
        combine: str = 'prob_mean',
        branch_names: Optional[Sequence[str]] = None,
        topk: Union[int, Tuple[int]] = (1, ),
        cal_acc: bool = False,
        init_cfg: Optional[dict] = dict(type='Normal', layer='Linear', std=0.01),
    ) -> None:
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        in_channels = tuple(in_channels)
        if num_classes <= 0:
            raise ValueError(f'CLANHead num_classes must be positive, got {num_classes}')
        if not in_channels:
            raise ValueError('CLANHead in_channels must list at least one branch')
        if combine not in _COMBINE_MODES:
            raise ValueError(f'CLANHead combine must be one of {_COMBINE_MODES}, got {combine!r}')
        if branch_names is None:
            branch_names = [f'mid{i + 1}' for i in range(len(in_channels) - 2)] + ['top', 'fused']
            branch_names = branch_names[-len(in_channels):]
        branch_names = tuple(branch_names)
        if len(branch_names) != len(in_channels) or len(set(branch_names)) != len(branch_names):
            raise ValueError(f'CLANHead branch_names {branch_names} must be {len(in_channels)} distinct names')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.combine = combine
        self.branch_names = branch_names
        self.fcs = nn.ModuleList([nn.Linear(c, num_classes) for c in in_channels])

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Check and return the branch features.

        Args:
            feats (Sequence[torch.Tensor]): One feature (B, C_b) per branch.

        Returns:
            tuple[torch.Tensor]: The same features.
        """
        if len(feats) != len(self.fcs):
            raise ValueError(f'CLANHead expects {len(self.fcs)} branch features, got {len(feats)}')
        return tuple(feats)

    def forward(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Classify every branch.

        Args:
            feats (Sequence[torch.Tensor]): One feature (B, C_b) per branch.

        Returns:
            tuple[torch.Tensor]: One logit tensor (B, num_classes) per branch.
        """
        return tuple(fc(f) for fc, f in zip(self.fcs, self.pre_logits(feats)))

    def combine_scores(self, logits: Sequence[torch.Tensor]) -> torch.Tensor:
        """Combine the branch logits into class probabilities.

        Args:
            logits (Sequence[torch.Tensor]): Per-branch logits (B, num_classes).

        Returns:
            torch.Tensor: Probabilities (B, num_classes), rows summing to 1.
        """
        if self.combine == 'prob_mean':
            return torch.stack([F.softmax(x, dim=1) for x in logits]).mean(0)
        return F.softmax(torch.stack(logits).sum(0), dim=1)

    def loss(self, feats: Sequence[torch.Tensor], data_samples: List[DataSample], **kwargs) -> dict:
        """Compute one loss per branch.

        Args:
            feats (Sequence[torch.Tensor]): One feature (B, C_b) per branch.
            data_samples (List[DataSample]): With ``gt_label`` (or
                ``gt_score`` from batch augmentation).
            **kwargs: Passed to the loss module.

        Returns:
            dict[str, torch.Tensor]: ``loss_<branch>`` for every branch (MMEngine
            sums them), plus ``accuracy_top-k`` of the combined prediction
            when ``cal_acc``.
        """
        logits = self(feats)
        if 'gt_score' in data_samples[0]:
            target = torch.stack([i.gt_score for i in data_samples])
        else:
            target = torch.cat([i.gt_label for i in data_samples])
        losses = {
            f'loss_{name}': self.loss_module(x, target, avg_factor=x.size(0), **kwargs)
            for name, x in zip(self.branch_names, logits)
        }
        if self.cal_acc:
            if target.ndim != 1:
                raise ValueError('CLANHead cal_acc needs hard labels; disable it with batch augmentation')
            acc = Accuracy.calculate(self.combine_scores(logits), target, topk=self.topk)
            losses.update({f'accuracy_top-{k}': a for k, a in zip(self.topk, acc)})
        return losses

    def predict(self,
                feats: Sequence[torch.Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        """Predict from the combined branch outputs.

        Args:
            feats (Sequence[torch.Tensor]): One feature (B, C_b) per branch.
            data_samples (List[DataSample | None], optional): Samples to fill.

        Returns:
            List[DataSample]: With ``pred_score`` (num_classes, ) from
            :meth:`combine_scores` and ``pred_label`` (1, ).
        """
        scores = self.combine_scores(self(feats))
        labels = scores.argmax(dim=1, keepdim=True).detach()
        if data_samples is None:
            data_samples = [None] * scores.size(0)
        out = []
        for data_sample, score, label in zip(data_samples, scores, labels):
            data_sample = DataSample() if data_sample is None else data_sample
            out.append(data_sample.set_pred_score(score).set_pred_label(label))
        return out
