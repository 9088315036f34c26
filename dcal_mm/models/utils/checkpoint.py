# Copyright (c) OpenMMLab. All rights reserved.
from contextlib import contextmanager
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextmanager
def _bn_running_stats_kept(module: nn.Module):
    """Restore the running statistics of every training-mode BatchNorm in ``module`` on exit."""
    saved = [(m, [b.clone() for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None])
             for m in module.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, buffers in saved:
                live = [b for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None]
                for b, value in zip(live, buffers):
                    b.copy_(value)


def checkpointed(module: nn.Module, *inputs: Any, fn: Callable = None) -> Any:
    """``fn(*inputs)`` (default: ``module(*inputs)``) under non-reentrant gradient checkpointing, with the
    BatchNorm running statistics of ``module`` updated once.

    The backward pass recomputes the forward; a training-mode BatchNorm would then update its running mean and
    variance a second time with the same batch. The recomputation here restores them afterwards, so running
    statistics, outputs and gradients all equal those without checkpointing. Stochastic layers replay their
    random state (``preserve_rng_state``).
    """
    fn = module if fn is None else fn
    calls = []

    def run(*args):
        calls.append(None)
        if len(calls) == 1:
            return fn(*args)
        with _bn_running_stats_kept(module):  # the recomputation in the backward pass
            return fn(*args)

    return checkpoint(run, *inputs, use_reentrant=False)
