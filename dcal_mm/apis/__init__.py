# Copyright (c) OpenMMLab. All rights reserved.
from .inference import build_inference_model
from .model_index import find_model_index, register_model_index

__all__ = ['build_inference_model', 'find_model_index', 'register_model_index']
