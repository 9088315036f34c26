# Copyright (c) OpenMMLab. All rights reserved.
"""Write ``FLOPs`` and ``Parameters`` into the ``Metadata`` of each model of
``configs/*/metafile.yml`` (MMPretrain's metafile fields), computed with
``tools/analysis_tools/get_flops.py``'s functions: FLOPs of the whole
inference path (GLCA etc. included) for one image at the model's input size,
random weights, on the CPU.

The file is edited in place line by line (comments and layout are kept),
after every model; existing ``FLOPs`` / ``Parameters`` lines of a model are
replaced.

Examples:
    python tools/misc/update_metafile_flops.py --only '*demo*'     # the small demo models (seconds each)
    python tools/misc/update_metafile_flops.py                      # every model (ViT-B at 448 px: slow on a CPU)
"""
import argparse
import fnmatch
import os.path as osp
import re
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if sys.path[0] != REPO:
    sys.path.insert(0, REPO)

import dcal_mm  # noqa: E402,F401
from dcal_mm.apis import build_inference_model, model_input_size  # noqa: E402
from dcal_mm.utils.cli import load_tool  # noqa: E402
from dcal_mm.utils.progress import RunCounter  # noqa: E402

METAFILES = ('configs/dcal/metafile.yml', 'configs/glsim/metafile.yml', 'configs/rga/metafile.yml',
             'configs/clan/metafile.yml')


def pipeline_shape(pipeline, config: str):
    """(H, W) of the test pipeline's output: its last crop / resize size."""
    for t in reversed(pipeline):
        size = t.get('crop_size') or (t.get('scale') if t.get('type') == 'Resize' else None)
        if size is not None:
            return (size, size) if isinstance(size, int) else (size[1], size[0])  # mmcv sizes are (w, h)
    raise ValueError(f'{config}: no input size in the backbone or the test pipeline')


def model_cost(config: str):
    """(inference FLOPs per image, parameters) of a config, as get_flops.py counts them."""
    tool = load_tool('tools/analysis_tools/get_flops.py', REPO)
    model, _ = build_inference_model(osp.join(REPO, config), None, 'cpu')
    try:
        shape = model_input_size(model, 'update_metafile_flops')
    except ValueError:  # a CNN (CLAN): the size the test pipeline gives
        shape = pipeline_shape(model._config.test_dataloader.dataset.pipeline, config)
    total, _ = tool.inference_flops(model, shape)
    return int(total), int(sum(p.numel() for p in model.parameters()))


def models_of(lines):
    """(line index of ``Metadata:``, config) of each model block of a metafile's lines."""
    found, start = [], None
    for i, line in enumerate(lines):
        if re.match(r'^  - Name: ', line):
            start = None
        if start is None and re.match(r'^    Metadata:\s*$', line):
            start = i
        m = re.match(r'^    Config: (\S+)', line)
        if m:
            if start is None:
                raise ValueError(f'model with Config {m.group(1)} has no Metadata: block')
            found.append((start, m.group(1)))
            start = -1  # until the next model
    return found


def set_cost(lines, metadata_line: int, flops: int, params: int):
    """Lines with ``FLOPs`` / ``Parameters`` set right under the ``Metadata:`` line."""
    end = metadata_line + 1
    while end < len(lines) and lines[end].startswith('      '):
        end += 1
    body = [line for line in lines[metadata_line + 1:end] if not re.match(r'^      (FLOPs|Parameters):', line)]
    return lines[:metadata_line + 1] + [f'      FLOPs: {flops}\n', f'      Parameters: {params}\n'] + body + lines[end:]


def update(metafile: str, patterns, costs: dict, counter=None) -> int:
    with open(metafile) as f:
        lines = f.readlines()
    changed = 0
    for metadata_line, config in reversed(models_of(lines)):
        if patterns and not any(fnmatch.fnmatch(config, p) for p in patterns):
            continue
        if config not in costs:
            costs[config] = model_cost(config)
            if counter is not None:
                counter.finished(f'{config}: {costs[config][0] / 1e9:.3f} GFLOPs, {costs[config][1] / 1e6:.3f} M')
        lines = set_cost(lines, metadata_line, *costs[config])
        changed += 1
        with open(metafile, 'w') as f:  # after every model: an interrupted run keeps what it measured
            f.writelines(lines)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description='FLOPs and Parameters into the metafiles')
    parser.add_argument('--only', nargs='+', help='config path patterns (fnmatch), e.g. "*demo*"')
    parser.add_argument('--metafiles', nargs='+', default=list(METAFILES))
    args = parser.parse_args(argv)
    metafiles = [osp.join(REPO, m) for m in args.metafiles]
    todo = {c for m in metafiles for _, c in models_of(open(m).readlines())
            if not args.only or any(fnmatch.fnmatch(c, p) for p in args.only)}
    counter, costs, start = RunCounter(len(todo)), {}, time.time()
    for metafile in metafiles:
        n = update(metafile, args.only, costs, counter)
        print(f'{osp.relpath(metafile, REPO)}: {n} models updated')
    print(f'{len(costs)} configs measured in {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
