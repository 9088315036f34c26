# Copyright (c) OpenMMLab. All rights reserved.
"""Top-level config keys that nothing reads are errors; every config of
configs/ passes."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import dcal_mm  # noqa: F401
from dcal_mm.utils.config_check import ConfigKeyError, check_config_keys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RUNNABLE = sorted(
    f for f in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in f and not osp.basename(f).startswith('_'))


def test_every_config_passes():
    assert len(RUNNABLE) > 70
    for path in RUNNABLE:
        check_config_keys(Config.fromfile(path))


def _config(tmp_path, body):
    path = tmp_path / 'mine.py'
    path.write_text(f"_base_ = ['{osp.join(REPO, 'configs/dcal/demo_fgvc.py')}']\n{body}\n")
    return Config.fromfile(str(path))


def test_misspelled_or_unused_keys_are_named_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigKeyError, match="'modle' \\(did you mean 'model'\\?\\)"):
        check_config_keys(_config(tmp_path, 'modle = dict(head=dict(num_classes=5))'))
    # a variable the user set but nothing reads (the datasets were filled in by the base already)
    with pytest.raises(ConfigKeyError, match="'num_clases' \\(did you mean 'num_classes'\\?\\)"):
        check_config_keys(_config(tmp_path, 'num_clases = 37'))
    cfg = _config(tmp_path, '')
    cfg.merge_from_dict({'trian_cfg': dict(max_epochs=1)})  # --cfg-options trian_cfg.max_epochs=1
    with pytest.raises(ConfigKeyError, match="'trian_cfg' \\(did you mean 'train_cfg'\\?\\)"):
        check_config_keys(cfg)


def test_dumped_config_passes_and_flat_typos_fail(tmp_path):
    # the flat config MMEngine dumps into the work dir: variables substituted, no _base_ to follow
    cfg = Config.fromfile(osp.join(REPO, 'configs/dcal/demo_reid.py'))
    cfg.dump(str(tmp_path / 'dumped.py'))
    check_config_keys(Config.fromfile(str(tmp_path / 'dumped.py')))
    with open(tmp_path / 'dumped.py', 'a') as f:
        f.write('\nmodle = dict(head=dict(num_classes=5))\n')
    with pytest.raises(ConfigKeyError, match="'modle' \\(did you mean 'model'\\?\\)"):
        check_config_keys(Config.fromfile(str(tmp_path / 'dumped.py')))


def test_variables_pass(tmp_path):
    check_config_keys(_config(tmp_path, '_unused_helper = 3'))  # marked as a variable by the leading _
    check_config_keys(_config(tmp_path, 'lr = 0.1\noptim_wrapper = dict(optimizer=dict(lr=lr))'))  # used
    check_config_keys(_config(tmp_path, 'max_epochs = 3'))  # the base defines it (a variable of the base)
