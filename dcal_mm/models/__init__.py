# Copyright (c) OpenMMLab. All rights reserved.
from . import backbones, classifiers, heads, layers, losses, necks, tta, utils  # noqa: F401
