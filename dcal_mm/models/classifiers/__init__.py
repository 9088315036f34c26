# Copyright (c) OpenMMLab. All rights reserved.
from .dcal import DCAL
from .glsim import GLSim
from .reid_classifier import ReIDClassifier

__all__ = ['DCAL', 'GLSim', 'ReIDClassifier']
