# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
import re
from typing import Optional

from mmpretrain.registry import DATASETS

from .base_reid import BaseReIDDataset


@DATASETS.register_module()
class CUHK03(BaseReIDDataset):
    """CUHK03 person Re-ID dataset (Li et al., CVPR 2014) under the new
    protocol (CUHK03-NP, Zhong et al., CVPR 2017): 767 training and 700 test
    identities, evaluated like Market-1501.

    Expected layout: the Market-style ``cuhk03-np`` release of the new
    protocol (zhunzhong07/person-re-ranking, ``CUHK03-NP``), one folder per
    box ``variant``::

        {data_root}/cuhk03-np/{detected,labeled}/
        ├── bounding_box_train/   detected 7,365 / labeled 7,368 images, 767 ids
        ├── query/                1,400 images, 700 ids
        └── bounding_box_test/    detected 5,332 / labeled 5,328 images, 700 ids

    File names are ``{pid}_c{cam}_{n}.png`` (``.jpg`` copies are read too),
    e.g. ``0001_c1_1.png``, camera 1 or 2. The original ``cuhk-03.mat`` with
    the ``cuhk03_new_protocol_config_*.mat`` splits is not read: convert it to
    this layout first (the release above is exactly that conversion).

    Args:
        data_root (str): The folder that holds ``cuhk03-np``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        variant (str): ``'detected'`` (DPM boxes) or ``'labeled'`` (hand-drawn
            boxes). Defaults to ``'detected'``, the harder and more reported
            setting.
        dataset_dir (str, optional): Folder relative to ``data_root`` that
            holds the variant folders. Defaults to ``'cuhk03-np'``.
        **kwargs: See :class:`BaseReIDDataset`.
    """

    DATASET_DIR = 'cuhk03-np'
    NUM_CAMS = 2
    IMG_SUFFIXES = ('.png', '.jpg')
    FILENAME_PATTERN = re.compile(r'(?P<pid>-1|\d+)_c(?P<cam>\d)_\d+\.(png|jpg)')
    FILENAME_EXAMPLE = '0001_c1_1.png'
    VARIANTS = ('detected', 'labeled')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 variant: str = 'detected',
                 dataset_dir: Optional[str] = None,
                 **kwargs) -> None:
        if variant not in self.VARIANTS:
            raise ValueError(f'CUHK03: variant must be one of {self.VARIANTS}, got {variant!r}')
        self.variant = variant
        dataset_dir = osp.join(self.DATASET_DIR if dataset_dir is None else dataset_dir, variant)
        super().__init__(data_root=data_root, split=split, dataset_dir=dataset_dir, **kwargs)
