# Copyright (c) OpenMMLab. All rights reserved.
"""Strip a training checkpoint into a publishable weights file.

Only the model weights are kept, as plain tensors, so the result loads with
``torch.load(path, weights_only=True)`` (the torch>=2.6 default) and with
MMEngine's ``load_checkpoint`` / ``init_cfg=dict(type='Pretrained')``.
Optimizer, message hub, parameter schedulers, hook messages and the
``meta`` dict (which pickles numpy and MMEngine objects) are dropped.

Output layouts:

* default: ``{'state_dict': OrderedDict[str, Tensor]}`` (what MMEngine's
  loaders look for first);
* ``--flat``: the bare ``OrderedDict[str, Tensor]``.

As in OpenMMLab, the first 8 hex digits of the file's sha256 are appended to
the name: ``out.pth`` becomes ``out-1a2b3c4d.pth``.

Example::

    python tools/publish_model.py work_dirs/demo_fgvc/epoch_30.pth dcal_demo.pth
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if sys.path[0] != REPO_ROOT:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402

from dcal_mm.utils import load_local_checkpoint  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Process a checkpoint to be published')
    parser.add_argument('in_file', help='input checkpoint filename')
    parser.add_argument('out_file', help='output checkpoint filename (a .pth name)')
    parser.add_argument('--flat', action='store_true', help='save the bare state dict, without {"state_dict": ...}')
    parser.add_argument(
        '--ema',
        action='store_true',
        help='publish the EMA weights (`ema_state_dict` written by EMAHook) instead of the model weights')
    return parser.parse_args()


def extract_state_dict(checkpoint: dict, in_file: str = '<checkpoint>', ema: bool = False) -> Dict[str, torch.Tensor]:
    """Plain-tensor model weights of a loaded checkpoint.

    Args:
        checkpoint (dict): A training checkpoint (``{'state_dict': ...,
            'meta': ..., 'optimizer': ...}``) or a bare state dict.
        in_file (str): Name used in error messages.
        ema (bool): Take ``ema_state_dict`` (keys ``module.<name>``) instead.

    Returns:
        OrderedDict[str, Tensor]: Detached CPU tensors, ``module.`` prefixes
        (from a DDP-wrapped save) removed.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{in_file}: expected a dict checkpoint, got {type(checkpoint).__name__}')
    if ema:
        if 'ema_state_dict' not in checkpoint:
            raise KeyError(f'{in_file}: --ema given but the checkpoint has no "ema_state_dict"')
        weights = {k[len('module.'):]: v for k, v in checkpoint['ema_state_dict'].items() if k.startswith('module.')}
    elif 'state_dict' in checkpoint:
        weights = checkpoint['state_dict']
    else:
        weights = checkpoint
    state_dict = OrderedDict()
    for key, value in weights.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f'{in_file}: state dict entry {key!r} is a {type(value).__name__}, not a tensor')
        if key.startswith('module.'):
            key = key[len('module.'):]
        state_dict[key] = value.detach().cpu().clone()
    if not state_dict:
        raise ValueError(f'{in_file}: no model weights found')
    return state_dict


def publish(in_file: str, out_file: str, flat: bool = False, ema: bool = False) -> str:
    """Write the published file and return its final name.

    Args:
        in_file (str): Training checkpoint.
        out_file (str): Wanted name; ``-<sha256[:8]>`` is inserted before the
            ``.pth`` suffix (added if missing).
        flat (bool): Save the bare state dict. Defaults to False.
        ema (bool): Publish the EMA weights. Defaults to False.

    Returns:
        str: Path of the written file.
    """
    out_dir = osp.dirname(osp.abspath(out_file))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'output directory {out_dir} does not exist')
    checkpoint = load_local_checkpoint(in_file, map_location='cpu')
    state_dict = extract_state_dict(checkpoint, in_file, ema=ema)
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    tmp_file = stem + '.tmp.pth'
    torch.save(state_dict if flat else {'state_dict': state_dict}, tmp_file)
    with open(tmp_file, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:8]
    final_file = f'{stem}-{sha}.pth'
    os.replace(tmp_file, final_file)
    return final_file


def main():
    args = parse_args()
    final_file = publish(args.in_file, args.out_file, flat=args.flat, ema=args.ema)
    print(f'Successfully generated the publish-ckpt as {final_file}.')


if __name__ == '__main__':
    main()
