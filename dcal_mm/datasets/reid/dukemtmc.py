# Copyright (c) OpenMMLab. All rights reserved.
import re

from mmpretrain.registry import DATASETS

from .base_reid import BaseReIDDataset


@DATASETS.register_module()
class DukeMTMC(BaseReIDDataset):
    """DukeMTMC-reID person Re-ID dataset (Zheng et al., ICCV 2017).

    Expected layout (``DukeMTMC-reID.zip`` unpacked)::

        {data_root}/DukeMTMC-reID/
        ├── bounding_box_train/   16,522 images, 702 ids   (split='train')
        ├── query/                 2,228 images, 702 ids   (split='test', first)
        └── bounding_box_test/    17,661 images, 1,110 ids (split='test', after the query)

    File names are ``{pid}_c{cam}_f{frame}.jpg``, e.g. ``0001_c2_f0046182.jpg``:
    pid 4 digits, camera 1-8. The dataset has no junk images; the gallery's
    408 distractor identities carry ordinary ids and are kept.

    Args:
        data_root (str): The folder that holds ``DukeMTMC-reID``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        dataset_dir (str, optional): Dataset folder relative to ``data_root``.
            Defaults to ``'DukeMTMC-reID'``.
        **kwargs: See :class:`BaseReIDDataset`.
    """

    DATASET_DIR = 'DukeMTMC-reID'
    NUM_CAMS = 8
    FILENAME_PATTERN = re.compile(r'(?P<pid>-1|\d{4})_c(?P<cam>\d)_f\d+\.jpg')
    FILENAME_EXAMPLE = '0001_c2_f0046182.jpg'
