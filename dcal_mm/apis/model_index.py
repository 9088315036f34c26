# Copyright (c) OpenMMLab. All rights reserved.
"""Register dcal_mm's ``model-index.yml`` with MMPretrain's ``ModelHub``, so
``mmpretrain.list_models``, ``get_model`` and ``inference_model`` (and the
inferencers, by model name) know our models after ``import dcal_mm``."""
import os.path as osp
from typing import Optional

from mmpretrain.apis.model import ModelHub

_PKG_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
_registered = set()


def find_model_index() -> Optional[str]:
    """Locate ``model-index.yml``.

    An installed wheel carries it (with ``configs/``) in ``dcal_mm/.mim``, as
    MMPretrain does; a source checkout or an editable install has it at the
    repository root, next to the package.

    Returns:
        str | None: The file, or None when neither place has it.
    """
    for root in (osp.join(_PKG_DIR, '.mim'), osp.dirname(_PKG_DIR)):
        path = osp.join(root, 'model-index.yml')
        if osp.isfile(path):
            return path
    return None


def register_model_index(path: Optional[str] = None) -> int:
    """Add the models of a model-index file to ``ModelHub`` (once per file).

    Config paths in the metafiles are relative to the model-index file's
    folder. A file is registered once per process, so importing dcal_mm
    again (or calling this again) is harmless.

    Args:
        path (str, optional): A ``model-index.yml``. Defaults to
            :func:`find_model_index`.

    Returns:
        int: The number of models added.
    """
    path = path or find_model_index()
    if path is None or osp.abspath(path) in _registered:
        return 0
    before = len(ModelHub._models_dict)
    ModelHub.register_model_index(path, config_prefix=osp.dirname(osp.abspath(path)))
    _registered.add(osp.abspath(path))
    return len(ModelHub._models_dict) - before
