# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
import runpy
import sys

import pytest
import torch

from dcal_mm.utils import cli

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def _run_tool(args):
    """Run a tool script as ``python tools/x.py ...`` would, in this process
    (saves a second interpreter start-up and the imports)."""
    argv, cwd, threads = sys.argv, os.getcwd(), torch.get_num_threads()
    sys.argv = list(args)
    os.chdir(REPO)
    torch.set_num_threads(1)  # tiny models only get slower with more threads on a shared CPU
    try:
        runpy.run_path(args[0], run_name='__main__')
    finally:
        sys.argv = argv
        os.chdir(cwd)
        torch.set_num_threads(threads)


@pytest.fixture
def run_tool():
    return _run_tool


def _load_tool(path):
    """Import a tool script (``tools/...py``, relative to the repository) as a module, for its functions."""
    return cli.load_tool(path, REPO)


@pytest.fixture
def load_tool():
    return _load_tool
