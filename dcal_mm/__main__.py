# Copyright (c) OpenMMLab. All rights reserved.
"""Run a tool script with dcal_mm imported first: ``python -m dcal_mm TOOL [ARGS...]``.

MMPretrain's own tools (``mmpretrain/.mim/tools``, also what ``mim train
mmpretrain`` runs) read the config's ``_base_`` files before its
``custom_imports`` import dcal_mm. So a config with
``_base_ = ['mmpretrain::...']`` fails there on setuptools >= 82
(``No module named 'pkg_resources'``), and ``dcal_mm::`` bases are unknown
to MMEngine. Importing dcal_mm first applies its stack guards
(:mod:`dcal_mm.utils.compat`) before the config is read.

TOOL is a script path, or the name of one of MMPretrain's tools relative to
``mmpretrain/.mim/tools`` without ``.py``: ``train``, ``test``,
``misc/print_config``, ``analysis_tools/eval_metric`` ...

Examples::

    python -m dcal_mm train my_config.py --work-dir work_dirs/my
    python -m dcal_mm misc/print_config my_config.py
    python -m dcal_mm /path/to/any/tool.py ARGS
"""
import os.path as osp
import runpy
import sys


def resolve_tool(tool: str) -> str:
    """The script of TOOL: a path as given, else MMPretrain's ``.mim/tools/<tool>.py``."""
    if osp.isfile(tool):
        return tool
    import mmpretrain
    tools = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools')
    path = osp.join(tools, tool if tool.endswith('.py') else tool + '.py')
    if not osp.isfile(path):
        raise SystemExit(f'python -m dcal_mm: {tool} is neither a file nor one of MMPretrain\'s tools in {tools} '
                         '(e.g. train, test, misc/print_config, analysis_tools/eval_metric)')
    return path


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return
    path = resolve_tool(argv[0])
    import dcal_mm  # noqa: F401  (registers the modules, applies the stack guards)
    sys.argv = [path, *argv[1:]]
    sys.path.insert(0, osp.dirname(osp.abspath(path)))  # as `python path` would
    runpy.run_path(path, run_name='__main__')


if __name__ == '__main__':
    main()
