# Copyright (c) OpenMMLab. All rights reserved.
from .uncertainty_weighting import UncertaintyWeighting
from .triplet_loss import TripletLoss
