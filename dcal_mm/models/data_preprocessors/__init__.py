# Copyright (c) OpenMMLab. All rights reserved.
from .cls_data_preprocessor import ClsDataPreprocessor

__all__ = ['ClsDataPreprocessor']
