# Copyright (c) OpenMMLab. All rights reserved.
from .triplet_loss import TripletLoss
from .uncertainty_weighting import UncertaintyWeighting

__all__ = ['TripletLoss', 'UncertaintyWeighting']
