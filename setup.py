# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

MIM_FILES = ('configs', 'model-index.yml')


def parse_requirements(fname):
    with open(fname) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith(('#', '-r'))]


def add_mim_extension():
    """Copy ``configs/`` and ``model-index.yml`` into ``dcal_mm/.mim`` when a
    wheel or sdist is built, as MMPretrain ships them, so ``list_models`` /
    ``get_model`` find the configs of an installed (non-editable) package. An
    editable install or a source checkout reads them from the repository."""
    if not {'bdist_wheel', 'sdist'} & set(sys.argv):
        return
    repo = osp.dirname(osp.abspath(__file__))
    mim = osp.join(repo, 'dcal_mm', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(repo, name), osp.join(mim, name)
        if osp.isdir(dst):
            shutil.rmtree(dst)
        elif osp.exists(dst):
            os.remove(dst)
        if osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


def get_version():
    scope = {}
    with open('dcal_mm/version.py') as f:
        exec(compile(f.read(), 'dcal_mm/version.py', 'exec'), scope)
    return scope['__version__']


add_mim_extension()
setup(
    name='dcal_mm',
    version=get_version(),
    description='DCAL, GLSim, RGA and CLAN for fine-grained recognition and re-identification '
    'as an MMPretrain plugin',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    package_data={'dcal_mm': ['.mim/model-index.yml', '.mim/configs/**/*.py', '.mim/configs/**/*.yml']},
    python_requires='>=3.9',
    # mmcv is not required here on purpose: a user's full mmcv must keep
    # working, and installing mmcv-lite beside it would overwrite it. Take
    # the ``lite`` extra when no mmcv is installed.
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require=dict(
        lite=parse_requirements('requirements/lite.txt'),
        tests=parse_requirements('requirements/tests.txt'),
        deploy=parse_requirements('requirements/deploy.txt'),
    ),
    license='Apache License 2.0',
    zip_safe=False,
)
