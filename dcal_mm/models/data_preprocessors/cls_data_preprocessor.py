# Copyright (c) OpenMMLab. All rights reserved.
import math

from mmpretrain.models.utils import ClsDataPreprocessor as _MMPretrainClsDataPreprocessor
from mmpretrain.registry import MODELS


@MODELS.register_module(name='ClsDataPreprocessor', force=True)
class ClsDataPreprocessor(_MMPretrainClsDataPreprocessor):
    """MMPretrain's ``ClsDataPreprocessor`` that refuses a ``std`` which would
    divide the images by zero.

    Replaces the ``ClsDataPreprocessor`` of MMPretrain's registry once
    :mod:`dcal_mm` is imported (every classifier's default preprocessor), with
    the same arguments and results. ``std=[0, 0, 0]`` (or a NaN / infinite /
    negative value) turns every image into NaN / inf and the whole training
    into ``loss: nan``; here it is a ``ValueError`` when the model is built,
    naming the value. A ``mean`` that is not finite is refused too.

    Args:
        **kwargs: MMPretrain's arguments (``mean``, ``std``, ``to_rgb``,
            ``num_classes``, ``batch_augments``...).
    """

    def __init__(self, **kwargs) -> None:
        for key in ('mean', 'std'):
            values = kwargs.get(key)
            if values is None:
                continue
            values = list(values) if isinstance(values, (list, tuple)) else [values]
            if any(not isinstance(v, (int, float)) or not math.isfinite(v) or (key == 'std' and v <= 0)
                   for v in values):
                expected = 'positive finite numbers' if key == 'std' else 'finite numbers'
                raise ValueError(f'data_preprocessor.{key}={values}: expected {expected} (the images are normalised '
                                 'as (image - mean) / std)')
        super().__init__(**kwargs)
