# Copyright (c) OpenMMLab. All rights reserved.
from .dcal import DCAL
from .reid_classifier import ReIDClassifier
from .glsim import GLSim
