# Copyright (c) OpenMMLab. All rights reserved.
from . import backbones, classifiers, data_preprocessors, heads, layers, losses, necks, tta, utils  # noqa: F401
