# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence

import torch
from mmpretrain.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class UncertaintyWeighting(nn.Module):
    """Dynamic loss weights of DCAL (after FairMOT's uncertainty loss).

    ``L = 0.5 * sum_i(exp(-w_i) * L_i + w_i)`` with learnable w_i, so branch
    i is weighted ``0.5 * exp(-w_i)``: **0.5 at the start** (w_i = 0), half
    the weight a single-branch baseline gives its loss, and the gradient
    reaching the shared weights is scaled accordingly. The optimum of each
    term is w_i = log L_i; how fast w_i gets there depends on its optimiser
    (the FGVC configs give it 100x the lr, see
    ``tools/analysis_tools/loss_weight_dynamics.py``). The
    parameter is named ``loss_log_vars`` so that configs can exempt it from
    weight decay (``paramwise_cfg.custom_keys={'loss_log_vars':
    dict(decay_mult=0.)}``), as the DCAL configs do.

    Args:
        num_losses (int): Number of weighted terms.
        init_values (Sequence[float], optional): Initial w_i. Our choice:
            0 (every term weighted 1 at the start; FairMOT used task-specific
            values for its two tasks).
    """

    def __init__(self, num_losses: int, init_values: Sequence[float] = None) -> None:
        super().__init__()
        init = torch.zeros(num_losses) if init_values is None else torch.tensor(init_values, dtype=torch.float)
        if init.shape != (num_losses, ):
            raise ValueError(f'UncertaintyWeighting init_values must have {num_losses} entries, got {init.tolist()}')
        self.loss_log_vars = nn.Parameter(init)

    def forward(self, losses: Sequence[Tensor]) -> Tensor:
        """
        Args:
            losses (Sequence[Tensor]): Scalar losses L_i.

        Returns:
            Tensor: The combined scalar loss.
        """
        if len(losses) != self.loss_log_vars.numel():
            raise ValueError(f'UncertaintyWeighting expects {self.loss_log_vars.numel()} losses, got {len(losses)}')
        w = self.loss_log_vars
        return 0.5 * (torch.exp(-w) * torch.stack(list(losses)) + w).sum()
