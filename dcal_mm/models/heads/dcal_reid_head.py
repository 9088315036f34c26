# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..layers import BNNeck
from ..losses import UncertaintyWeighting
from .dcal_cls_head import DCALFeatures
from .reid_head import set_pred_features


@MODELS.register_module()
class DCALReIDHead(BaseModule):
    """Re-ID head of DCAL: a BNNeck, an ID loss and a triplet loss per branch.

    Each branch's class token ``f`` (B, C) feeds a batch-hard triplet loss;
    ``BN(f)`` goes through a bias-free classifier whose logits feed the ID
    loss (BNNeck, TransReID's baseline head). A branch's loss is
    ``ID + triplet``; the branch losses (SA, GLCA, PWCA) are combined by
    :class:`UncertaintyWeighting` (``loss_weighting='dynamic'``, the paper's)
    or summed (``'sum'``). With ``with_glca=False`` and ``with_pwca=False``
    this is the TransReID ViT baseline: one BNNeck, ``ID + triplet``, no
    dynamic weighting.

    Our choices where the paper is silent:

    - SA and GLCA each own a BNNeck (BN with its bias frozen at zero, then a
      bias-free classifier). PWCA uses SA's BNNeck, as it shares all other SA
      weights. In training the PWCA features are normalised with their own
      batch statistics through SA's BN affine, without updating SA's running
      statistics, which thus describe the clean SA features used at test
      time (``neck_feat='after'``).
    - The triplet loss of every branch uses the pre-BN feature.

    The loss dict holds the total ``loss`` (the only key containing
    ``'loss'``, so MMEngine sums nothing else) and, for logging only,
    ``{branch}_id`` and ``{branch}_triplet`` (unweighted branch terms),
    ``{branch}_w`` (the learnt log-variance of the branch, dynamic weighting
    only) and ``accuracy_top-k`` of the SA branch (``cal_acc``).

    Args:
        num_classes (int): Number of training identities.
        in_channels (int): Class-token width C.
        with_glca (bool): Build the GLCA BNNeck. Defaults to True.
        with_pwca (bool): Expect a PWCA feature in training. Defaults to True.
        loss (dict): ID loss config. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)`` (TransReID's
            ``IF_LABELSMOOTH='off'``); use ``dict(type='LabelSmoothLoss',
            label_smooth_val=0.1, mode='original')`` for label smoothing.
        loss_triplet (dict, optional): Triplet loss config (see
            :class:`TripletLoss`); ``None`` disables it. Defaults to the soft
            margin ``dict(type='TripletLoss', margin=None, loss_weight=1.0)``
            (TransReID ``NO_MARGIN: True``); ``margin=0.3`` gives the fixed
            margin.
        loss_weighting (str): ``'dynamic'`` or ``'sum'``. Defaults to
            ``'dynamic'``.
        neck_feat (str): ``'before'`` (default, TransReID's test setting) or
            ``'after'`` the BNs: the features returned by :meth:`predict`.
        predict_mode (str, optional): ``'concat'`` (the paper: SA and GLCA
            class tokens concatenated, width 2C), ``'sa'`` (SA only, width C;
            the classifier then skips GLCA and the rollout, the baseline's
            cost) or ``'glca'`` (GLCA only, width C). Defaults to None:
            ``'concat'`` with GLCA, else ``'sa'``.
        topk (int | Sequence[int]): Top-k ID accuracies logged when
            ``cal_acc``. Defaults to ``(1, )``.
        cal_acc (bool): Log the SA branch's ID accuracy on the training
            batch. Defaults to False.
        init_cfg (dict, optional): Initialisation config. The BNNecks
            initialise themselves (BN weight 1, classifier ``N(0, 0.001^2)``).
            Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 with_glca: bool = True,
                 with_pwca: bool = True,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 loss_triplet: Optional[dict] = dict(type='TripletLoss', margin=None, loss_weight=1.0),
                 loss_weighting: str = 'dynamic',
                 neck_feat: str = 'before',
                 predict_mode: Optional[str] = None,
                 topk: Union[int, Sequence[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes <= 0 or in_channels <= 0:
            raise ValueError(f'DCALReIDHead num_classes and in_channels must be positive, got {num_classes} and '
                             f'{in_channels}')
        if loss_weighting not in ('dynamic', 'sum'):
            raise ValueError(f"DCALReIDHead loss_weighting must be 'dynamic' or 'sum', got {loss_weighting!r}")
        if neck_feat not in ('before', 'after'):
            raise ValueError(f"DCALReIDHead neck_feat must be 'before' or 'after', got {neck_feat!r}")
        valid_modes = ('concat', 'sa', 'glca') if with_glca else ('sa', )
        if predict_mode is None:
            predict_mode = 'concat' if with_glca else 'sa'
        if predict_mode not in valid_modes:
            raise ValueError(f'DCALReIDHead predict_mode must be one of {valid_modes} (with_glca={with_glca}), '
                             f'got {predict_mode!r}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.with_glca = with_glca
        self.with_pwca = with_pwca
        self.neck_feat = neck_feat
        self.predict_mode = predict_mode
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        self.cal_acc = cal_acc
        self.branches = ['sa'] + (['glca'] if with_glca else []) + (['pwca'] if with_pwca else [])
        self.sa_neck = BNNeck(in_channels, num_classes)
        self.glca_neck = BNNeck(in_channels, num_classes) if with_glca else None
        self.loss_module = loss if isinstance(loss, nn.Module) else MODELS.build(loss)
        if loss_triplet is None or isinstance(loss_triplet, nn.Module):
            self.loss_triplet = loss_triplet
        else:
            self.loss_triplet = MODELS.build(loss_triplet)
        self.loss_weighting = UncertaintyWeighting(len(self.branches)) \
            if loss_weighting == 'dynamic' and len(self.branches) > 1 else None

    @property
    def needs_glca(self) -> bool:
        """Whether prediction uses the GLCA branch."""
        return self.predict_mode in ('concat', 'glca')

    def _check(self, name: str, feat: Tensor) -> None:
        if feat.dim() != 2 or feat.size(1) != self.in_channels:
            raise ValueError(f'DCALReIDHead expects the {name} class token of shape (B, {self.in_channels}), '
                             f'got {tuple(feat.shape)}')

    def _pwca_neck(self, feat: Tensor) -> Tuple[Tensor, Tensor]:
        """SA's BNNeck on PWCA features, leaving SA's running stats alone."""
        neck = self.sa_neck
        if not neck.bn.training:
            return neck(feat)
        bn_feat = F.batch_norm(feat, None, None, neck.bn.weight, neck.bn.bias, training=True, eps=neck.bn.eps)
        return bn_feat, neck.classifier(bn_feat)

    def forward(self, feats: DCALFeatures) -> Dict[str, Tuple[Tensor, Tensor, Tensor]]:
        """
        Args:
            feats (DCALFeatures): Per-branch class tokens, each (B, C); a
                missing branch is None.

        Returns:
            dict[str, tuple[Tensor]]: For each present branch,
            ``(feat, bn_feat, logits)`` of shapes (B, C), (B, C) and
            (B, num_classes).
        """
        feats = DCALFeatures(*feats)  # also the (sa, [glca]) tuple of DCAL.extract_feat
        outs = {}
        for name in ('sa', 'glca', 'pwca'):
            feat = getattr(feats, name)
            if feat is None:
                continue
            self._check(name, feat)
            if name == 'glca':
                if self.glca_neck is None:
                    raise ValueError('DCALReIDHead got a GLCA feature but was built with with_glca=False')
                outs[name] = (feat, ) + self.glca_neck(feat)
            elif name == 'pwca':
                outs[name] = (feat, ) + self._pwca_neck(feat)
            else:
                outs[name] = (feat, ) + self.sa_neck(feat)
        return outs

    def loss(self, feats: DCALFeatures, data_samples: List[DataSample], **kwargs) -> Dict[str, Tensor]:
        """Per-branch ID + triplet losses, combined.

        Args:
            feats (DCALFeatures): Per-branch class tokens, each (B, C).
            data_samples (list[DataSample]): Samples with ``gt_label`` (train
                identity in ``[0, num_classes)``), in P x K order for the
                triplet loss.
            **kwargs: Passed to the ID loss.

        Returns:
            dict[str, Tensor]: ``loss`` and the logged values described in the
            class docstring.
        """
        outs = self.forward(feats)
        if list(outs) != self.branches:
            raise ValueError(f'DCALReIDHead expected branches {self.branches} in training, got {list(outs)}')
        if 'gt_label' not in data_samples[0]:
            raise ValueError('DCALReIDHead.loss needs gt_label on every DataSample (batch augments that replace '
                             'labels by gt_score are not supported for Re-ID)')
        target = torch.cat([s.gt_label for s in data_samples]).to(feats.sa.device)
        if int(target.min()) < 0 or int(target.max()) >= self.num_classes:
            raise ValueError(f'DCALReIDHead: train labels must be in [0, {self.num_classes}), got '
                             f'[{int(target.min())}, {int(target.max())}]; num_classes must be the number of train '
                             'identities')
        losses, branch_losses = {}, []
        for name in self.branches:
            feat, _, logits = outs[name]
            id_loss = self.loss_module(logits, target, avg_factor=logits.size(0), **kwargs)
            losses[f'{name}_id'] = id_loss.detach()
            branch_loss = id_loss
            if self.loss_triplet is not None:
                tri_loss = self.loss_triplet(feat, target)
                losses[f'{name}_triplet'] = tri_loss.detach()
                branch_loss = branch_loss + tri_loss
            branch_losses.append(branch_loss)
        if self.loss_weighting is not None:
            losses['loss'] = self.loss_weighting(branch_losses)
            for name, w in zip(self.branches, self.loss_weighting.loss_log_vars.detach()):
                losses[f'{name}_w'] = w
        else:
            losses['loss'] = sum(branch_losses)
        if self.cal_acc:
            acc = Accuracy.calculate(outs['sa'][2], target, topk=self.topk)
            losses.update({f'accuracy_top-{k}': a for k, a in zip(self.topk, acc)})
        return losses

    def predict(self, feats: DCALFeatures,
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        """Retrieval features by ``predict_mode`` and ``neck_feat``.

        Args:
            feats (DCALFeatures): SA and (when needed) GLCA class tokens,
                each (B, C); a PWCA feature is ignored.
            data_samples (list[DataSample | None], optional): Samples to fill;
                new ones are created when None.

        Returns:
            list[DataSample]: Samples with ``pred_feature``, shape (2C, ) for
            ``'concat'``, else (C, ).
        """
        return set_pred_features(self.pre_logits(feats).detach(), data_samples)

    def pre_logits(self, feats: DCALFeatures) -> Tensor:
        """The retrieval feature that :meth:`predict` stores as
        ``pred_feature`` (``DCAL.extract_feat(stage='pre_logits')``).

        Args:
            feats (DCALFeatures): SA and (when needed) GLCA class tokens,
                each (B, C).

        Returns:
            Tensor: (B, 2C) for ``'concat'``, else (B, C), before or after
            the BNs by ``neck_feat``.
        """
        feats = DCALFeatures(*feats)  # also the (sa, [glca]) tuple of DCAL.extract_feat
        if self.needs_glca and feats.glca is None:
            raise ValueError(f'DCALReIDHead predict_mode={self.predict_mode!r} needs the GLCA class token, got None')
        outs = self.forward(DCALFeatures(feats.sa, feats.glca if self.needs_glca else None))
        pick = 0 if self.neck_feat == 'before' else 1
        names = {'concat': ('sa', 'glca'), 'sa': ('sa', ), 'glca': ('glca', )}[self.predict_mode]
        return torch.cat([outs[n][pick] for n in names], dim=1)
