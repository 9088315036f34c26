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

MODELS = Registry('model', parent=mmpretrain_registry.MODELS, scope='dcal_mm', locations=['dcal_mm.models'])
DATASETS = Registry('dataset', parent=mmpretrain_registry.DATASETS, scope='dcal_mm', locations=['dcal_mm.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=mmpretrain_registry.DATA_SAMPLERS, scope='dcal_mm', locations=['dcal_mm.datasets'])
TRANSFORMS = Registry(
    'transform', parent=mmpretrain_registry.TRANSFORMS, scope='dcal_mm', locations=['dcal_mm.datasets'])
METRICS = Registry('metric', parent=mmpretrain_registry.METRICS, scope='dcal_mm', locations=['dcal_mm.evaluation'])
HOOKS = Registry('hook', parent=mmpretrain_registry.HOOKS, scope='dcal_mm', locations=['dcal_mm.engine'])
VISUALIZERS = Registry(
    'visualizer', parent=mmpretrain_registry.VISUALIZERS, scope='dcal_mm', locations=['dcal_mm.visualization'])

__all__ = ['MODELS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'VISUALIZERS']
