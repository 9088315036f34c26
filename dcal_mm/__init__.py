# Copyright (c) OpenMMLab. All rights reserved.
"""dcal_mm: DCAL, GLSim, RGA and CLAN for MMPretrain.

Importing the package registers every component into MMPretrain's registries
(``custom_imports=dict(imports=['dcal_mm'])``), adds the models of
``model-index.yml`` to MMPretrain's model hub and applies the stack guards in
:mod:`dcal_mm.utils.compat`.
"""
import warnings

# mmcv-lite has no compiled ops; MMPretrain never uses the one this warns about.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

import mmcv  # noqa: E402,F401  (full mmcv or mmcv-lite; mmpretrain needs one)

from .utils import apply_compat_patches  # noqa: E402
from .version import __version__  # noqa: E402

apply_compat_patches()

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .apis import apply_api_guards, register_model_index  # noqa: E402

register_model_index()  # mmpretrain.list_models / get_model / inference_model see our models
apply_api_guards()  # no random weights without a warning, checked retrieval caches, image errors that name the file

__all__ = ['__version__']
