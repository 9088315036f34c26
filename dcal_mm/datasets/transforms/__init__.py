# Copyright (c) OpenMMLab. All rights reserved.
from .loading import LoadImageFromFile

__all__ = ['LoadImageFromFile']
