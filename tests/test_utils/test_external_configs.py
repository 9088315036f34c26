# Copyright (c) OpenMMLab. All rights reserved.
"""``dcal_mm::`` config bases (MMEngine's ``pkg::path``) from a config
outside the repository, and ``python -m dcal_mm`` running MMPretrain's own
tools with ``mmpretrain::`` bases."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import mmengine.config.utils as config_utils
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_dcal_mm_base_from_outside_the_repo(tmp_path):
    assert config_utils.MODULE2PACKAGE['dcal_mm'] == 'dcal_mm' and config_utils.PKG2PROJECT['dcal_mm'] == 'dcal_mm'
    cfg = Config.fromfile(
        _write(tmp_path / 'my.py', "_base_ = ['dcal_mm::dcal/demo_fgvc.py']\n"
               'model = dict(head=dict(num_classes=7))\n'))
    base = Config.fromfile(osp.join(REPO, 'configs/dcal/demo_fgvc.py'))
    assert cfg.model.type == 'DCAL' and cfg.model.head.num_classes == 7
    assert [{k: v for k, v in s.items() if k != '_scope_'} for s in cfg.param_scheduler] == base.param_scheduler
    assert cfg.train_cfg == base.train_cfg
    # MMEngine marks what came from the base with its scope; the dcal_mm registries build it
    assert cfg.model._scope_ == 'dcal_mm'
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'DCAL' and model.head.num_classes == 7


def test_missing_dcal_mm_base_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing_here.py'):
        Config.fromfile(_write(tmp_path / 'bad.py', "_base_ = ['dcal_mm::dcal/nothing_here.py']\n"))


def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300)


def test_python_m_dcal_mm_runs_mmpretrain_tools_with_package_bases(tmp_path):
    config = _write(
        tmp_path / 'mixed.py', "_base_ = ['mmpretrain::_base_/schedules/cub_bs64.py']\n"
        "custom_imports = dict(imports=['dcal_mm'], allow_failed_imports=False)\n")
    proc = _run(['-m', 'dcal_mm', 'misc/print_config', config], str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'max_epochs=100' in proc.stdout.replace(' ', '')  # MMPretrain's CUB schedule was read
    if importlib.util.find_spec('pkg_resources') is None:
        # the stock tool reads the bases before custom_imports imports dcal_mm
        import mmpretrain
        stock = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'misc', 'print_config.py')
        proc = _run([stock, config], str(tmp_path))
        assert proc.returncode != 0 and "No module named 'pkg_resources'" in proc.stdout
