# Copyright (c) OpenMMLab. All rights reserved.
from setuptools import find_packages, setup


def parse_requirements(fname):
    with open(fname) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith(('#', '-r'))]


def get_version():
    scope = {}
    with open('dcal_mm/version.py') as f:
        exec(compile(f.read(), 'dcal_mm/version.py', 'exec'), scope)
    return scope['__version__']


setup(
    name='dcal_mm',
    version=get_version(),
    description='DCAL, GLSim, RGA and CLAN for fine-grained recognition and re-identification '
    'as an MMPretrain plugin',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.9',
    # mmcv is not required here on purpose: a user's full mmcv must keep
    # working, and installing mmcv-lite beside it would overwrite it. Take
    # the ``lite`` extra when no mmcv is installed.
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require=dict(
        lite=parse_requirements('requirements/lite.txt'),
        tests=parse_requirements('requirements/tests.txt'),
    ),
    license='Apache License 2.0',
    zip_safe=False,
)
