# Copyright (c) OpenMMLab. All rights reserved.
"""Flag spellings of the tools follow MMPretrain's (``CONFIG CHECKPOINT``
positional, ``browse_dataset.py --output-dir``, ``test.py --rerank/--flip``);
the old spellings parse to the same arguments and print a deprecation line."""
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
REID = 'configs/dcal/demo_reid.py'
FGVC = 'configs/dcal/demo_fgvc.py'


def _parse(load_tool, tool, argv):
    return vars(load_tool(tool).parse_args(argv))


def _same(new, old, ignore=('old_checkpoint', )):
    return {k: v for k, v in new.items() if k not in ignore} == {k: v for k, v in old.items() if k not in ignore}


def test_vis_attention_positional_checkpoint(load_tool, capsys):
    tool = 'tools/visualization/vis_attention.py'
    new = _parse(load_tool, tool, [REID, 'c.pth', 'a.jpg', 'b.jpg'])
    assert 'DeprecationWarning' not in capsys.readouterr().err
    assert new['checkpoint'] == 'c.pth' and new['images'] == ['a.jpg', 'b.jpg']
    old = _parse(load_tool, tool, [REID, 'a.jpg', 'b.jpg', '--checkpoint', 'c.pth'])
    err = capsys.readouterr().err
    assert _same(new, old)
    assert err.count('\n') == 1 and 'DeprecationWarning: --checkpoint is deprecated' in err
    # random weights: 'none' now, and the old spelling without --checkpoint
    none = _parse(load_tool, tool, [REID, 'none', 'a.jpg'])
    assert none['checkpoint'] is None and none['images'] == ['a.jpg']
    assert 'DeprecationWarning' not in capsys.readouterr().err
    old_none = _parse(load_tool, tool, [REID, 'a.jpg'])
    assert _same(none, old_none) and 'DeprecationWarning' in capsys.readouterr().err
    # the default output folder is under the work dir, not ./vis_attention
    assert new['out_dir'] == osp.join('work_dirs', 'demo_reid', 'vis_attention')


@pytest.mark.parametrize('tool,before', [('demo/image_demo.py', ['bird.jpg', FGVC]),
                                         ('demo/reid_demo.py', ['q.jpg', 'gallery/', REID])])
def test_demos_positional_checkpoint(load_tool, capsys, tool, before):
    new = _parse(load_tool, tool, before + ['c.pth', '--topk', '3'])
    assert new['checkpoint'] == 'c.pth' and 'DeprecationWarning' not in capsys.readouterr().err
    old = _parse(load_tool, tool, before + ['--checkpoint', 'c.pth', '--topk', '3'])
    err = capsys.readouterr().err
    assert _same(new, old) and 'DeprecationWarning: --checkpoint is deprecated' in err
    assert _parse(load_tool, tool, before)['checkpoint'] is None
    assert _parse(load_tool, tool, before + ['none'])['checkpoint'] is None
    with pytest.raises(SystemExit):  # both spellings at once
        _parse(load_tool, tool, before + ['a.pth', '--checkpoint', 'b.pth'])


def test_browse_dataset_output_dir(load_tool, capsys):
    tool = 'tools/visualization/browse_dataset.py'
    new = _parse(load_tool, tool, [REID, '--output-dir', 'b'])
    assert new['output_dir'] == 'b' and 'DeprecationWarning' not in capsys.readouterr().err
    assert _parse(load_tool, tool, [REID, '-o', 'b']) == new
    old = _parse(load_tool, tool, [REID, '--out-dir', 'b'])
    assert old == new and 'DeprecationWarning: --out-dir is deprecated' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(load_tool, tool, [REID])


def _test_cfg(load_tool, argv):
    module = load_tool('tools/test.py')
    args = module.parse_args(argv)
    return module.merge_args(Config.fromfile(osp.join(REPO, args.config)), args)


def test_test_rerank_flag(load_tool, capsys):
    plain = _test_cfg(load_tool, [REID, 'c.pth'])
    assert not plain.test_evaluator.get('rerank', False)
    new = _test_cfg(load_tool, [REID, 'c.pth', '--rerank'])
    old = _test_cfg(load_tool, [REID, 'c.pth', '--cfg-options', 'test_evaluator.rerank=True'])
    assert new.test_evaluator.rerank is True and new.test_evaluator == old.test_evaluator
    assert '--rerank is the flag' in capsys.readouterr().err
    with pytest.raises(ValueError, match='no ReIDMetric'):
        _test_cfg(load_tool, [FGVC, 'c.pth', '--rerank'])


def test_test_flip_is_tta(load_tool):
    new = _test_cfg(load_tool, [REID, 'c.pth', '--flip'])
    old = _test_cfg(load_tool, [REID, 'c.pth', '--tta'])
    assert new.model.type == 'AverageReIDFeatureTTA' and new.model == old.model
    assert new.test_dataloader.dataset.pipeline == old.test_dataloader.dataset.pipeline
    flipped = _test_cfg(load_tool, [FGVC, 'c.pth', '--flip'])
    assert flipped.model.type == 'mmpretrain.AverageClsScoreTTA'
    assert flipped.test_dataloader.dataset.pipeline[-1].type == 'TestTimeAug'
