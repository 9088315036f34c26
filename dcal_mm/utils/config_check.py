# Copyright (c) OpenMMLab. All rights reserved.
"""Find top-level config keys that nothing reads (misspelled keys).

A config file's top-level keys are read by MMEngine's ``Runner`` (``model``,
``train_dataloader``, ...) or the tools (``tta_model``, ...); any other key is
ignored without a word, so ``modle = dict(...)`` trains the base's model.
Old-style configs also define helper variables (``data_root``,
``train_pipeline``, ``num_classes``...) that the files substitute into the
real keys. A key is accepted when it is

* read by the runner, MMEngine, MMPretrain's or dcal_mm's tools
  (:data:`KNOWN_KEYS`), or
* a variable: its name is used in a file of the config's ``_base_`` chain
  (``type=dataset_type``, ``_base_.train_pipeline``,
  ``{{_base_.img_size}}``), it is defined by a ``_base_`` file (what a base
  exports for its children, e.g. ``rga_train_pipeline``, ``num_ids``), or it
  starts with ``_`` (``_my_helper = 3`` marks a variable that nothing uses
  yet).

So a key that the config file itself (or ``--cfg-options``) introduces and
nothing reads is an error; base files are not checked as such (they are not
run directly). A flat config without ``_base_`` (what MMEngine dumps into
every work dir, variables already substituted, base variables that the child
replaced included) has no names to follow: there only a near-miss of a key
the runner reads (``modle``, ``trian_cfg``) whose value appears nowhere else
is an error.
"""
import ast
import difflib
import os.path as osp
import re
from typing import Iterable, List, Optional, Set, Tuple

# Runner.from_cfg / Runner.__init__ and what the runner reads from cfg
RUNNER_KEYS = {
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg',
    'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks',
    'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name', 'model_wrapper_cfg', 'find_unused_parameters',
    'compile', 'strategy', 'runner_type', 'custom_imports', 'cfg', 'sync_bn', 'efficient_conv_bn_eval',
    'activation_checkpointing', 'resource_limit', 'filename'
}
# tools/test.py --tta; dcal_mm's tools and hooks
TOOL_KEYS = {'tta_model', 'tta_pipeline', 'allow_partial_load', 'data_root'}
KNOWN_KEYS = RUNNER_KEYS | TOOL_KEYS

_TEMPLATE = re.compile(r'\{\{\s*_base_\.([A-Za-z_]\w*)')


class ConfigKeyError(KeyError):
    """A top-level config key that nothing reads."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def _base_files(filename: str, tree: ast.Module) -> List[str]:
    """The ``_base_`` files named in a parsed config file."""
    bases: List[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            for base in [value] if isinstance(value, str) else list(value):
                if '::' in base:
                    try:
                        from mmengine.config import Config
                        path, _ = Config._get_cfg_path(base, filename)
                    except Exception:  # noqa: BLE001 - an unresolvable base is MMEngine's error to raise
                        continue
                else:
                    path = osp.join(osp.dirname(filename), base)
                bases.append(path)
    return bases


def _sub_values(value, out: list) -> list:
    """Every value nested in ``value`` (dicts, lists, tuples), itself included."""
    out.append(value)
    if isinstance(value, dict):
        for item in value.values():
            _sub_values(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _sub_values(item, out)
    return out


def _substituted(key: str, cfg) -> bool:
    """Whether ``cfg[key]`` appears inside another top-level value."""
    value = cfg[key]
    if value is None or value == {} or value == []:
        return False
    return any(value == other for name in cfg.keys() if name != key for other in _sub_values(cfg[name], [])[1:])


def config_names(filename: str) -> Tuple[Set[str], Set[str], bool]:
    """Names that the ``_base_`` files of a config define and names used in
    the config file and its ``_base_`` chain.

    Args:
        filename (str): An old-style (dict) config file.

    Returns:
        tuple[set, set, bool | None]: Top-level names assigned in the base
        files (not in ``filename`` itself), names read anywhere (as a name, as
        ``_base_.name`` or in ``{{_base_.name}}``), and whether the chain
        could be parsed (False for pure-Python ``read_base`` configs, None
        for a flat config without ``_base_``).
    """
    defined: Set[str] = set()
    used: Set[str] = set()
    seen: Set[str] = set()
    todo = [filename]
    while todo:
        path = osp.abspath(todo.pop())
        if path in seen or not osp.isfile(path) or not path.endswith('.py'):
            continue
        seen.add(path)
        text = open(path, encoding='utf-8').read()
        if 'read_base' in text:
            return defined, used, False
        used.update(_TEMPLATE.findall(text))
        try:
            tree = ast.parse(_TEMPLATE.sub('0', re.sub(r'\{\{[^}]*\}\}', '0', text)), filename=path)
        except SyntaxError:
            return defined, used, False
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, 'target', None)]
            for target in targets:
                if isinstance(target, ast.Name) and path != osp.abspath(filename):
                    defined.add(target.id)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                used.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == '_base_':
                used.add(node.attr)
        bases = _base_files(path, tree)
        if path == osp.abspath(filename) and not bases:
            return defined, used, None  # a flat (dumped) config
        todo.extend(bases)
    return defined, used, True


def unused_config_keys(cfg, filename: Optional[str]) -> List[Tuple[str, Optional[str]]]:
    """Top-level keys that nothing reads, each with a near-miss suggestion.

    Args:
        cfg (Config | dict): The config.
        filename (str, optional): The config file (``cfg.filename``); without
            one only :data:`KNOWN_KEYS`, ``_`` names and (as in a flat file)
            substituted values are accepted.

    Returns:
        list[tuple[str, str | None]]: ``(key, suggestion)`` pairs.
    """
    defined: Set[str] = set()
    used: Set[str] = set()
    flat = True
    if filename and osp.isfile(filename):
        defined, used, parsed = config_names(filename)
        if parsed is False:
            return []
        flat = parsed is None
    keys = list(cfg.keys())
    candidates = sorted(KNOWN_KEYS | defined | used)
    unused = []
    for key in keys:
        if key in KNOWN_KEYS or key in used or key in defined or key.startswith('_'):
            continue
        if flat and (_substituted(key, cfg) or not difflib.get_close_matches(key, RUNNER_KEYS, n=1, cutoff=0.75)):
            continue
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        unused.append((key, close[0] if close else None))
    return unused


def check_config_keys(cfg, filename: Optional[str] = None) -> None:
    """Raise :class:`ConfigKeyError` for top-level keys that nothing reads.

    Args:
        cfg (Config | dict): The config (after ``--cfg-options``).
        filename (str, optional): Its file; defaults to ``cfg.filename``.

    Raises:
        ConfigKeyError: One line naming each unused key and the closest known
            key.
    """
    filename = filename or getattr(cfg, 'filename', None)
    unused = unused_config_keys(cfg, filename)
    if not unused:
        return
    parts = [f'{key!r}' + (f' (did you mean {close!r}?)' if close else '') for key, close in unused]
    raise ConfigKeyError(f'{filename or "config"}: top-level key{"s" if len(parts) > 1 else ""} {", ".join(parts)} '
                         'not read by the runner or the tools and not used as a variable in the config files; fix '
                         'the spelling, or start a helper variable\'s name with "_"')
