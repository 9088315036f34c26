# Copyright (c) OpenMMLab. All rights reserved.
from . import hooks  # noqa: F401

__all__ = []
