# Copyright (c) OpenMMLab. All rights reserved.
from . import demo, samplers, transforms  # noqa: F401
