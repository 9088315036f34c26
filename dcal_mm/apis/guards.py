# Copyright (c) OpenMMLab. All rights reserved.
"""Guards on MMPretrain's model APIs and inferencers against silent wrong
results; installed by :func:`apply_api_guards` when :mod:`dcal_mm` is
imported.

* ``get_model`` / ``init_model`` / the inferencers without a checkpoint build
  a model with random weights, and ``pretrained=True`` for a model without
  published weights (every dcal_mm metafile) silently did the same. Now
  ``pretrained=True`` with no weights to load is a ``ValueError``, and random
  weights always come with a :class:`RandomWeightsWarning`.
* A model without a checkpoint took its class names from the test dataset
  class's built-in list (MMPretrain's ``CUB``: 200 species for a 10-class
  head), and checkpoints saved before dcal_mm read a CUB-layout set's own
  ``classes.txt`` carry those 200 names; names that do not match the head's
  number of classes are dropped (warned).
* The inferencers read image files with ``mmcv.imread``, whose failure on an
  empty or corrupt file is a decoder assertion naming no file: an
  ``OSError`` naming the path now.
* ``ImageRetrievalInferencer(prototype_cache=...)`` loaded any cache file,
  built by other weights or from another gallery (wrong rankings, or an
  ``IndexError``): caches now record both and are rebuilt on a mismatch
  (:mod:`dcal_mm.apis.prototype_cache`).
"""
import functools
import os.path as osp
import sys
import warnings
from pathlib import Path

import numpy as np


class RandomWeightsWarning(UserWarning):
    """A model is used with randomly initialised weights."""


def _model_name(model) -> str:
    if isinstance(model, (str, Path)):
        return str(model)
    return getattr(model, 'filename', None) or type(model).__name__


def _weights_for_true(model):
    """What ``pretrained=True`` loads for ``model`` (None: nothing)."""
    from mmengine.config import Config
    from mmpretrain.apis.model import ModelHub
    if isinstance(model, Config):
        return model.get('load_from', None)
    if isinstance(model, (str, Path)) and Path(model).suffix == '.py':
        return Config.fromfile(str(model)).get('load_from', None)
    if isinstance(model, str):
        return ModelHub.get(model).weights
    return None


def _check_class_names(model, source: str) -> None:
    """Drop ``dataset_meta['classes']`` that do not fit the head."""
    meta = getattr(model, '_dataset_meta', None) or {}
    classes = meta.get('classes')
    num_classes = getattr(getattr(model, 'head', None), 'num_classes', None)
    if classes is None or not isinstance(num_classes, int) or len(classes) == num_classes:
        return
    warnings.warn(
        f'{type(model).__name__}: {len(classes)} class names ({source}) for a head with {num_classes} classes: names '
        'dropped, predictions are class indices', UserWarning)
    model._dataset_meta = {k: v for k, v in meta.items() if k != 'classes'}


def guarded_get_model(get_model):
    """Wrap MMPretrain's ``get_model`` (see the module docstring)."""

    @functools.wraps(get_model)
    def wrapper(model, pretrained=False, device=None, device_map=None, offload_folder=None, url_mapping=None,
                **kwargs):
        if pretrained is True:
            weights = _weights_for_true(model)
            if not weights:
                raise ValueError(f'get_model / inferencer: {_model_name(model)} has no published weights to load for '
                                 "pretrained=True (dcal_mm's metafiles list none, and the config has no load_from); "
                                 "pass pretrained='path/to/checkpoint.pth', or pretrained=False for random weights")
            pretrained = weights
        result = get_model(model, pretrained, device=device, device_map=device_map, offload_folder=offload_folder,
                           url_mapping=url_mapping, **kwargs)
        result._checkpoint = pretrained or None
        if not pretrained:
            warnings.warn(
                f'{_model_name(model)}: no checkpoint given, the model has RANDOM weights (its predictions are '
                "meaningless); pass pretrained='checkpoint.pth'", RandomWeightsWarning, stacklevel=2)
        _check_class_names(result, f'dataset_meta of {pretrained}' if pretrained else
                           'the test dataset class\'s built-in list; no checkpoint gave any')
        return result

    wrapper._dcal_mm_guard = True
    return wrapper


def read_image(path_or_array, *args, **kwargs):
    """``mmcv.imread`` whose failure on a file names the file.

    Args:
        path_or_array (str | np.ndarray): As ``mmcv.imread``.
        *args: Passed on.
        **kwargs: Passed on.

    Returns:
        np.ndarray: The image.
    """
    from mmcv.image import imread
    if not isinstance(path_or_array, (str, Path)):
        return imread(path_or_array, *args, **kwargs)
    path = str(path_or_array)
    if '://' not in path:
        if not osp.isfile(path):
            raise FileNotFoundError(f'image file {path} does not exist')
        if osp.getsize(path) == 0:
            raise OSError(f'cannot read image {path}: empty file (0 bytes)')
    try:
        img = imread(path, *args, **kwargs)
    except Exception as err:  # noqa: BLE001 - cv2 / PIL decoder errors name no file
        raise OSError(f'cannot read image {path}: {" ".join(str(err).split())[:200]}') from err
    if not isinstance(img, np.ndarray):
        raise OSError(f'cannot read image {path}: not a decodable image')
    return img


_IMREAD_MODULES = ('image_classification', 'image_retrieval', 'feature_extractor', 'image_caption',
                   'multimodal_retrieval', 'nlvr', 'visual_grounding', 'visual_question_answering')


def apply_api_guards() -> None:
    """Install the guards in MMPretrain's API modules (once)."""
    import mmpretrain
    import mmpretrain.apis
    import mmpretrain.apis.base
    import mmpretrain.apis.image_retrieval
    import mmpretrain.apis.model
    if getattr(mmpretrain.apis.model.get_model, '_dcal_mm_guard', False):
        return
    guarded = guarded_get_model(mmpretrain.apis.model.get_model)
    for module in (mmpretrain, mmpretrain.apis, mmpretrain.apis.base, mmpretrain.apis.model):
        if hasattr(module, 'get_model'):
            module.get_model = guarded
    for name in _IMREAD_MODULES:
        module = sys.modules.get(f'mmpretrain.apis.{name}')
        if module is not None and hasattr(module, 'imread'):
            module.imread = read_image
    from .prototype_cache import prepare_prototype
    mmpretrain.apis.image_retrieval.ImageRetrievalInferencer._prepare_prototype = prepare_prototype
