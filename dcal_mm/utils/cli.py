# Copyright (c) OpenMMLab. All rights reserved.
"""Command-line helpers shared by the tools: deprecated spellings of flags,
importing one tool script from another."""
import argparse
import importlib.util
import os.path as osp
import sys
from types import ModuleType

#: Suffixes that mark a positional argument as an image, not a checkpoint.
IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def warn_deprecated(old: str, new: str) -> None:
    """Print the one-line message of a deprecated spelling (to stderr).

    Args:
        old (str): The spelling used, e.g. ``'--checkpoint CKPT'``.
        new (str): The spelling to use instead.
    """
    print(f'DeprecationWarning: {old} is deprecated and will be removed in the next release; use {new}',
          file=sys.stderr)


class DeprecatedOption(argparse.Action):
    """An argparse action for an old flag: stores like ``store`` (or
    ``store_const`` with ``const``) and prints :func:`warn_deprecated`.

    Args:
        new (str): The spelling to use instead (for the message).
    """

    def __init__(self, option_strings, dest, new: str, nargs=None, const=None, **kwargs):
        self.new = new
        if const is not None:
            nargs = 0
        super().__init__(option_strings, dest, nargs=nargs, const=const, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        warn_deprecated(option_string, self.new)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def add_checkpoint_args(parser: argparse.ArgumentParser, usage: str, position: str, required: bool = False) -> None:
    """The positional CHECKPOINT (MMPretrain's convention) and the deprecated
    ``--checkpoint`` spelling; :func:`resolve_checkpoint` merges them.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        usage (str): The new usage, e.g. ``'IMG CONFIG CHECKPOINT'``.
        position (str): Which positional argument it is, e.g. ``'third'``.
        required (bool): Whether the positional is required (else optional:
            random weights without it).
    """
    parser.add_argument('checkpoint', nargs=None if required else '?',
                        help="checkpoint file ('none': random weights" + ('' if required else '; also without it') + ')')
    parser.add_argument(
        '--checkpoint',
        dest='old_checkpoint',
        action=DeprecatedOption,
        new=f'{usage} (checkpoint as the {position} positional argument)',
        help=f'deprecated: give the checkpoint as the {position} positional argument')


def resolve_checkpoint(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Take the checkpoint from the deprecated ``--checkpoint`` when given
    (an error if both spellings are), then map ``none`` to None."""
    if args.old_checkpoint is not None:
        if args.checkpoint is not None:
            parser.error(f'give the checkpoint once: positional {args.checkpoint} or '
                         f'--checkpoint {args.old_checkpoint}')
        args.checkpoint = args.old_checkpoint
    args.checkpoint = checkpoint_or_none(args.checkpoint)
    return args


def checkpoint_or_none(value):
    """``None`` for the positional CHECKPOINT ``none`` (random weights), else the value."""
    return None if value is None or value.lower() in ('none', 'random') else value


def looks_like_image(path: str) -> bool:
    """Whether a positional argument names an image file (by its suffix)."""
    return path.lower().endswith(IMG_SUFFIXES)


def default_out_dir(config: str, name: str) -> str:
    """``work_dirs/<config stem>/<name>``: where a tool writes without an
    output folder (as ``tools/train.py`` picks the work dir).

    Args:
        config (str): Config file or model name.
        name (str): The tool's folder name, e.g. ``'vis_attention'``.
    """
    return osp.join('work_dirs', osp.splitext(osp.basename(config))[0], name)


def load_tool(path: str, root: str) -> ModuleType:
    """Import a tool script as a module, for its functions.

    Args:
        path (str): The script, relative to ``root`` (e.g.
            ``'tools/visualization/vis_rank.py'``).
        root (str): The repository root.
    """
    spec = importlib.util.spec_from_file_location('_dcal_tool_' + osp.splitext(osp.basename(path))[0],
                                                  osp.join(root, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
