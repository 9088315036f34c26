# Copyright (c) OpenMMLab. All rights reserved.
"""Guards against known breakages of the pinned OpenMMLab stack.

Applied once when :mod:`dcal_mm` is imported, so a user never has to edit
their environment:

* torch >= 2.6 loads with ``weights_only=True`` by default, which rejects
  MMEngine 0.10.x training checkpoints (they pickle ``HistoryBuffer`` and
  numpy objects). We register a loader for local paths that trusts the file,
  as upstream MMEngine does after 0.10.7. Plain state dicts (pretrained and
  published weights) are still loaded with ``weights_only=True`` first.
  ``.safetensors`` files load through :mod:`safetensors`.
* setuptools >= 82 removed ``pkg_resources``, which MMEngine 0.10.x uses to
  resolve ``pkg::path`` configs. We swap in :mod:`importlib.metadata`.
* ``_base_ = ['dcal_mm::dcal/demo_fgvc.py']``: MMEngine resolves ``pkg::``
  only for packages of its hard-coded ``MODULE2PACKAGE`` (alias
  ``PKG2PROJECT``) and reads ``<package>/.mim/configs``, which only a built
  wheel has. We add ``dcal_mm`` to the mapping and, for a source checkout or
  an editable install (no ``dcal_mm/.mim``), read the repository's
  ``configs/``.
* numpy >= 2.4 removed ``np.in1d``, used by MMPretrain's retrieval metrics.
* ``mmengine.runner.load_checkpoint`` (what MMPretrain's ``init_model`` /
  ``get_model`` and inferencers call) loads another model's checkpoint with
  warnings only: replaced by :func:`dcal_mm.utils.checkpoint.load_checkpoint`,
  which refuses a mismatch unless a partial load is asked for.
* MMEngine writes checkpoints in place, so a run killed while saving leaves a
  truncated file: :func:`dcal_mm.utils.checkpoint.save_checkpoint` writes to
  a temporary name, flushes and renames. Unreadable checkpoints (empty,
  truncated) are errors naming the file.
"""
import importlib.metadata
import importlib.util
import os.path as osp
import sys

import numpy as np
import torch

_APPLIED = False


def load_local_checkpoint(filename: str, map_location=None):
    """Load a local checkpoint (``.pth``/``.pt``/``.bin``/``.safetensors``).

    Args:
        filename (str): Path of the file.
        map_location: As in :func:`torch.load`.

    Returns:
        dict: The loaded object.
    """
    from .checkpoint import CheckpointUnreadableError, checkpoint_problem
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename} does not exist')
    problem = checkpoint_problem(filename, deep=False)
    if problem is not None:
        raise CheckpointUnreadableError(f'checkpoint file {filename} {problem}')
    if filename.endswith('.safetensors'):
        from safetensors.torch import load_file
        device = map_location if isinstance(map_location, str) else 'cpu'
        return load_file(filename, device=device)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except Exception:  # noqa: BLE001 - training checkpoints pickle objects
        pass
    try:
        # The user chose to load this local file; trust it as MMEngine
        # itself does for torch < 2.6.
        return torch.load(filename, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001 - name the file whatever torch says
        reason = ' '.join(f'{type(err).__name__}: {err}'.split())[:200]
        raise CheckpointUnreadableError(f'cannot read checkpoint file {filename} ({osp.getsize(filename)} bytes): '
                                        f'{reason}; truncated, or not a PyTorch checkpoint') from err


def load_from_local_trusted(filename: str, map_location=None):
    """MMEngine checkpoint scheme for local paths (logged as ``local_trusted``)."""
    return load_local_checkpoint(filename, map_location)


def _is_installed(package: str) -> bool:
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def _get_installed_path(package: str) -> str:
    from mmengine.utils.package_utils import package2module
    spec = importlib.util.find_spec(package)
    if spec is None:
        spec = importlib.util.find_spec(package2module(package))
    if spec is None or spec.origin is None:
        raise importlib.metadata.PackageNotFoundError(package)
    return osp.dirname(spec.origin)


def _patch_pkg_resources() -> None:
    try:
        import pkg_resources  # noqa: F401
        return
    except ImportError:
        pass
    import mmengine.utils.package_utils as pu
    originals = {pu.is_installed: _is_installed, pu.get_installed_path: _get_installed_path}
    for name, module in list(sys.modules.items()):
        if not name.startswith('mmengine') or module is None:
            continue
        for attr in ('is_installed', 'get_installed_path'):
            fn = getattr(module, attr, None)
            if fn in originals:
                setattr(module, attr, originals[fn])


def _source_config_root(package_path: str):
    """The repository of a source checkout / editable install of dcal_mm,
    when ``package_path`` is dcal_mm's folder and it has no ``.mim``."""
    package_path = osp.realpath(package_path)
    ours = osp.realpath(osp.dirname(osp.dirname(osp.abspath(__file__))))
    if package_path != ours or osp.isdir(osp.join(package_path, '.mim', 'configs')):
        return None
    repo = osp.dirname(package_path)
    return repo if osp.isdir(osp.join(repo, 'configs')) else None


def _patch_external_configs() -> None:
    import mmengine.config.config as config_module
    import mmengine.config.utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('dcal_mm', 'dcal_mm')  # PKG2PROJECT is the same dict
    if getattr(config_module._get_external_cfg_base_path, '_dcal_mm', False):
        return
    get_cfg_path, get_base_path = config_module._get_external_cfg_path, config_module._get_external_cfg_base_path

    def external_cfg_path(package_path, cfg_file):
        if _source_config_root(package_path) is not None:
            raise ValueError(cfg_file)  # no .mim/model-index.yml: MMEngine then takes the base-config path
        return get_cfg_path(package_path, cfg_file)

    def external_cfg_base_path(package_path, cfg_name):
        repo = _source_config_root(package_path)
        if repo is None:
            return get_base_path(package_path, cfg_name)
        cfg_path = osp.join(repo, 'configs', cfg_name)
        if not osp.isfile(cfg_path):
            raise FileNotFoundError(f'dcal_mm::{cfg_name}: no config file {cfg_path}')
        return cfg_path

    external_cfg_base_path._dcal_mm = True
    config_module._get_external_cfg_path = external_cfg_path
    config_module._get_external_cfg_base_path = external_cfg_base_path


def _patch_load_checkpoint() -> None:
    import mmengine.runner

    from .checkpoint import load_checkpoint
    mmengine.runner.load_checkpoint = load_checkpoint
    # mmpretrain.apis.base imported the name before dcal_mm was imported
    base = sys.modules.get('mmpretrain.apis.base')
    if base is not None and hasattr(base, 'load_checkpoint'):
        base.load_checkpoint = load_checkpoint


def _patch_save_checkpoint() -> None:
    import mmengine.runner
    import mmengine.runner.checkpoint
    import mmengine.runner.runner

    from .checkpoint import save_checkpoint
    for module in (mmengine.runner, mmengine.runner.checkpoint, mmengine.runner.runner):
        module.save_checkpoint = save_checkpoint


def apply_compat_patches() -> None:
    """Apply all guards; safe to call more than once."""
    global _APPLIED
    if _APPLIED:
        return
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local_trusted, force=True)
    _patch_load_checkpoint()
    _patch_save_checkpoint()
    _patch_pkg_resources()
    _patch_external_configs()
    if not hasattr(np, 'in1d'):
        np.in1d = lambda ar1, ar2, assume_unique=False, invert=False: np.isin(
            np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)
    _APPLIED = True
