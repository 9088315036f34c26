# Copyright (c) OpenMMLab. All rights reserved.
import re

from mmpretrain.registry import DATASETS

from .base_reid import BaseReIDDataset


@DATASETS.register_module()
class Market1501(BaseReIDDataset):
    """Market-1501 person Re-ID dataset (Zheng et al., ICCV 2015).

    Expected layout (the official ``Market-1501-v15.09.15.zip`` unpacked)::

        {data_root}/Market-1501-v15.09.15/
        ├── bounding_box_train/   12,936 images, 751 ids   (split='train')
        ├── query/                 3,368 images, 750 ids   (split='test', first)
        └── bounding_box_test/    19,732 images             (split='test', after the query)

    File names are ``{pid}_c{cam}s{seq}_{frame}_{bbox}.jpg``, e.g.
    ``0002_c1s1_000451_03.jpg``: pid 4 digits (``-1`` for junk), camera 1-6.
    Other files (``Thumbs.db``) are ignored. In the gallery the 3,819 junk
    images (pid ``-1``) are dropped and the 2,798 distractors (pid ``0000``)
    are kept, leaving 15,913 gallery images.

    Args:
        data_root (str): The folder that holds ``Market-1501-v15.09.15``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        dataset_dir (str, optional): Dataset folder relative to ``data_root``.
            Defaults to ``'Market-1501-v15.09.15'``; ``''`` if ``data_root``
            is that folder.
        **kwargs: See :class:`BaseReIDDataset`.
    """

    DATASET_DIR = 'Market-1501-v15.09.15'
    NUM_CAMS = 6
    FILENAME_PATTERN = re.compile(r'(?P<pid>-1|\d{4})_c(?P<cam>\d)s\d+_\d+_\d+\.jpg')
    FILENAME_EXAMPLE = '0002_c1s1_000451_03.jpg'
    DISTRACTOR_PID = 0
