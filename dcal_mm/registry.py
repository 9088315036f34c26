# Copyright (c) OpenMMLab. All rights reserved.
"""The ``dcal_mm`` registry scope.

dcal_mm registers its components into MMPretrain's registries (configs use
``default_scope = 'mmpretrain'`` and plain type names). This module adds a
child registry with scope ``dcal_mm`` under each of them, so that a scoped
type ``'dcal_mm.X'`` resolves from any OpenMMLab registry **without importing
dcal_mm first**: for a scope it does not know, MMEngine's ``Registry.get``
imports ``<scope>.registry`` (this module), which imports the :mod:`dcal_mm`
package and so registers everything.

That is what makes tools that read no config (and so no
``custom_imports``) work, e.g. MMPretrain's own
``tools/analysis_tools/eval_metric.py dump.pkl --metric type=dcal_mm.ReIDMetric``.
A child finds ``X`` in itself or, failing that, in its parent (MMPretrain's
registry), where dcal_mm registered it.
"""
import dcal_mm  # noqa: F401  (registers the components into MMPretrain's registries)
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    """A ``dcal_mm`` child of an MMPretrain registry. It lazily imports the
    parent's modules too: a child that does not hold a name looks it up in
    the parent's dict, which only holds what was imported."""
    return Registry(name, parent=parent, scope='dcal_mm', locations=[*parent._locations, *locations])


# One child per MMPretrain registry that has a parent (configs read from a ``dcal_mm::`` base carry
# ``_scope_='dcal_mm'``, and every registry they build from must have a ``dcal_mm`` child).
RUNNERS = _child('runner', mmpretrain_registry.RUNNERS)
RUNNER_CONSTRUCTORS = _child('runner constructor', mmpretrain_registry.RUNNER_CONSTRUCTORS)
LOOPS = _child('loop', mmpretrain_registry.LOOPS)
HOOKS = _child('hook', mmpretrain_registry.HOOKS, 'dcal_mm.engine')
LOG_PROCESSORS = _child('log processor', mmpretrain_registry.LOG_PROCESSORS)
OPTIMIZERS = _child('optimizer', mmpretrain_registry.OPTIMIZERS)
OPTIM_WRAPPERS = _child('optimizer_wrapper', mmpretrain_registry.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor', mmpretrain_registry.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child('parameter scheduler', mmpretrain_registry.PARAM_SCHEDULERS)
DATASETS = _child('dataset', mmpretrain_registry.DATASETS, 'dcal_mm.datasets')
DATA_SAMPLERS = _child('data sampler', mmpretrain_registry.DATA_SAMPLERS, 'dcal_mm.datasets')
TRANSFORMS = _child('transform', mmpretrain_registry.TRANSFORMS, 'dcal_mm.datasets')
MODELS = _child('model', mmpretrain_registry.MODELS, 'dcal_mm.models')
MODEL_WRAPPERS = _child('model_wrapper', mmpretrain_registry.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child('weight initializer', mmpretrain_registry.WEIGHT_INITIALIZERS)
TASK_UTILS = _child('task util', mmpretrain_registry.TASK_UTILS)
METRICS = _child('metric', mmpretrain_registry.METRICS, 'dcal_mm.evaluation')
EVALUATORS = _child('evaluator', mmpretrain_registry.EVALUATORS, 'dcal_mm.evaluation')
VISUALIZERS = _child('visualizer', mmpretrain_registry.VISUALIZERS, 'dcal_mm.visualization')
VISBACKENDS = _child('vis_backend', mmpretrain_registry.VISBACKENDS)

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS'
]
