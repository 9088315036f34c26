# Copyright (c) OpenMMLab. All rights reserved.
from .guards import RandomWeightsWarning, apply_api_guards
from .inference import build_inference_model, model_input_size
from .model_index import find_model_index, register_model_index

__all__ = [
    'RandomWeightsWarning', 'apply_api_guards', 'build_inference_model', 'find_model_index', 'model_input_size',
    'register_model_index'
]
