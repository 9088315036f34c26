# Copyright (c) OpenMMLab. All rights reserved.
"""tools/misc/update_metafile_flops.py writes get_flops.py's numbers into the
metafiles' Metadata (FLOPs, Parameters), keeping the rest of the file."""
import os.path as osp

import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = 'tools/misc/update_metafile_flops.py'
TEXT = """# a comment that must survive
Models:
  - Name: a
    Metadata:
      FLOPs: 1
      Training Data:
        - X
    Results: null
    Config: configs/x/a.py
  - Name: b
    Metadata:
      Training Data:
        - Y
    Config: configs/x/b.py
"""


def test_set_cost_keeps_the_file(load_tool, tmp_path):
    tool = load_tool(TOOL)
    path = tmp_path / 'metafile.yml'
    path.write_text(TEXT)
    costs = {'configs/x/a.py': (123, 45), 'configs/x/b.py': (678, 90)}
    assert tool.update(str(path), None, costs) == 2
    text = path.read_text()
    assert text.startswith('# a comment that must survive\n')
    models = {m['Name']: m for m in yaml.safe_load(text)['Models']}
    assert models['a']['Metadata'] == {'FLOPs': 123, 'Parameters': 45, 'Training Data': ['X']}
    assert models['b']['Metadata'] == {'FLOPs': 678, 'Parameters': 90, 'Training Data': ['Y']}
    assert models['a']['Config'] == 'configs/x/a.py'
    # only the configs asked for
    assert tool.update(str(path), ['*b.py'], {'configs/x/b.py': (1, 2)}) == 1
    models = {m['Name']: m for m in yaml.safe_load(path.read_text())['Models']}
    assert models['a']['Metadata']['FLOPs'] == 123 and models['b']['Metadata']['FLOPs'] == 1


def test_metafile_numbers_are_get_flops_numbers(load_tool):
    tool = load_tool(TOOL)
    with open(osp.join(REPO, 'configs/dcal/metafile.yml')) as f:
        models = {m['Config']: m for m in yaml.safe_load(f)['Models']}
    meta = models['configs/dcal/demo_fgvc.py']['Metadata']
    assert (meta['FLOPs'], meta['Parameters']) == tool.model_cost('configs/dcal/demo_fgvc.py')
    for config, model in models.items():
        if 'FLOPs' in model['Metadata']:
            assert model['Metadata']['FLOPs'] > 0 and model['Metadata']['Parameters'] > 0, config
