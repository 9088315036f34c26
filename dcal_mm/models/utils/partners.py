# Copyright (c) OpenMMLab. All rights reserved.
import logging
from typing import Optional

import torch
from mmengine.logging import print_log
from torch import Tensor

PARTNER_POLICIES = ('random', 'intra', 'inter', 'mixed')


def draw_partners(batch_size: int,
                  labels: Optional[Tensor] = None,
                  policy: str = 'random',
                  generator: Optional[torch.Generator] = None) -> Tensor:
    """Draw each image's PWCA partner among the other images of its batch.

    ``'random'`` (the paper's best) links the batch into one random cycle:
    every image is the partner of exactly one other, and each image's
    partner is uniform over the rest of the batch. ``'intra'`` (same label),
    ``'inter'`` (another label) and ``'mixed'`` (intra or inter with
    probability 1/2 per image) draw each partner uniformly from the allowed
    images of the batch; an image with none is an error (intra pairs need
    batches with 2+ images per class, e.g. ``PKSampler``). A batch of one
    image has no partner: it is paired with itself (PWCA then equals SA) and
    a warning is logged.

    Random numbers come from ``generator`` or torch's global generator,
    which MMEngine seeds from ``randomness.seed``, so partners are
    reproducible for a seed and redrawn at every iteration.

    Args:
        batch_size (int): B.
        labels (Tensor, optional): Class / identity labels, shape (B, ).
            Needed by every policy but ``'random'``.
        policy (str): One of ``'random'``, ``'intra'``, ``'inter'``,
            ``'mixed'``.
        generator (torch.Generator, optional): Random source.

    Returns:
        Tensor: Partner indices into the batch, shape (B, ), int64, on CPU.
    """
    if policy not in PARTNER_POLICIES:
        raise ValueError(f'PWCA partner policy must be one of {PARTNER_POLICIES}, got {policy!r}')
    if batch_size < 2:
        print_log(f'PWCA got a batch of {batch_size} image: it is its own partner', logger='current',
                  level=logging.WARNING)
        return torch.zeros(batch_size, dtype=torch.long)
    if policy == 'random':
        order = torch.randperm(batch_size, generator=generator)
        partners = torch.empty_like(order)
        partners[order] = order.roll(-1)
        return partners
    if labels is None or labels.shape != (batch_size, ):
        raise ValueError(f'PWCA partner policy {policy!r} needs one label per image, got '
                         f'{None if labels is None else tuple(labels.shape)} for a batch of {batch_size}')
    labels = labels.cpu()
    same = labels[:, None] == labels[None, :]
    allowed = same if policy == 'intra' else ~same
    if policy == 'mixed':
        coin = torch.rand(batch_size, generator=generator) < 0.5
        allowed = torch.where(coin[:, None], same, ~same)
    allowed.fill_diagonal_(False)
    lonely = (~allowed.any(dim=1)).nonzero().flatten()
    if len(lonely):
        i = int(lonely[0])
        raise ValueError(f'PWCA partner policy {policy!r}: image {i} (label {int(labels[i])}) has no allowed '
                         f'partner in its batch of {batch_size} (labels {labels.tolist()}); intra pairs need '
                         "2+ images per class in a batch (PKSampler), inter pairs 2+ classes")
    return torch.multinomial(allowed.float(), 1, generator=generator).flatten()
