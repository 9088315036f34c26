# Copyright (c) OpenMMLab. All rights reserved.
import re

from mmpretrain.registry import DATASETS

from .base_reid import BaseReIDDataset


@DATASETS.register_module()
class VeRi776(BaseReIDDataset):
    """VeRi-776 vehicle Re-ID dataset (Liu et al., ICME 2016 / ECCV 2016).

    Expected layout (the official ``VeRi`` folder; only the three image
    folders are read, the ``name_*.txt``/``*.xml`` files are not needed)::

        {data_root}/VeRi/
        ├── image_train/   37,778 images, 576 ids   (split='train')
        ├── image_query/    1,678 images, 200 ids   (split='test', first)
        └── image_test/    11,579 images, 200 ids   (split='test', after the query)

    File names are ``{vid}_c{cam}_{timestamp}_{n}.jpg``, e.g.
    ``0002_c002_00030600_0.jpg``: vehicle id 4 digits, camera 3 digits (1-20).
    The official ``jk_index.txt`` junk (same id, same camera) is what the
    Re-ID metric's same-camera filter removes, so it needs no file here.

    Args:
        data_root (str): The folder that holds ``VeRi``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        dataset_dir (str, optional): Dataset folder relative to ``data_root``.
            Defaults to ``'VeRi'``.
        **kwargs: See :class:`BaseReIDDataset`.
    """

    DATASET_DIR = 'VeRi'
    NUM_CAMS = 20
    FILENAME_PATTERN = re.compile(r'(?P<pid>-1|\d{4})_c(?P<cam>\d{3})_\d+_\d+\.jpg')
    FILENAME_EXAMPLE = '0002_c002_00030600_0.jpg'
    SUBSET_DIRS = dict(train='image_train', query='image_query', gallery='image_test')
