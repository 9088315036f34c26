# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
import re
from typing import List, Optional

from mmengine.fileio import list_from_file
from mmpretrain.registry import DATASETS

from .base_reid import BaseReIDDataset, ReIDRecord


@DATASETS.register_module()
class MSMT17(BaseReIDDataset):
    """MSMT17 person Re-ID dataset (Wei et al., CVPR 2018), V1 or V2.

    Expected layout; V2 is the re-release with blurred faces, same lists::

        {data_root}/MSMT17_V1/                 {data_root}/MSMT17_V2/
        ├── train/                             ├── mask_train_v2/
        ├── test/                              ├── mask_test_v2/
        ├── list_train.txt                     ├── list_train.txt
        ├── list_val.txt                       ├── list_val.txt
        ├── list_query.txt                     ├── list_query.txt
        └── list_gallery.txt                   └── list_gallery.txt

    Each list line is ``{relative path} {pid}``, e.g.
    ``0000/0000_000_01_0303morning_0015_0.jpg 0``; train/val paths are
    relative to the train folder, query/gallery paths to the test folder. The
    pid is the list's (0-based in each of train and test; on the test split
    pid 0 is a real person, not a distractor). The camera is the third field
    of the file name (01-15). The list files are trusted to name existing
    images; a missing one fails when it is loaded.

    Sizes: list_train 30,248 + list_val 2,373 images of 1,041 ids; query
    11,659 and gallery 82,161 images of 3,060 ids.

    Args:
        data_root (str): The folder that holds ``MSMT17_V1``/``MSMT17_V2``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        version (str): ``'V1'`` or ``'V2'``. Defaults to ``'V1'``, the
            version the papers (TransReID, DCAL) report.
        use_val_in_train (bool): Add ``list_val.txt`` to the training set, as
            TransReID does (torchreid and fast-reid do not). Defaults to True
            (the TransReID recipe).
        dataset_dir (str, optional): Dataset folder relative to ``data_root``.
            Defaults to ``'MSMT17_{version}'``.
        **kwargs: See :class:`BaseReIDDataset`.
    """

    NUM_CAMS = 15
    FILENAME_PATTERN = re.compile(r'(?P<pid>\d+)_\d+_(?P<cam>\d{2})_\S+\.jpg')
    FILENAME_EXAMPLE = '0000_000_01_0303morning_0015_0.jpg'
    VERSIONS = dict(V1=('train', 'test'), V2=('mask_train_v2', 'mask_test_v2'))

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 version: str = 'V1',
                 use_val_in_train: bool = True,
                 dataset_dir: Optional[str] = None,
                 **kwargs) -> None:
        if version not in self.VERSIONS:
            raise ValueError(f'MSMT17: version must be one of {tuple(self.VERSIONS)}, got {version!r}')
        self.version = version
        self.use_val_in_train = use_val_in_train
        if dataset_dir is None:
            dataset_dir = f'MSMT17_{version}'
        super().__init__(data_root=data_root, split=split, dataset_dir=dataset_dir, **kwargs)

    def load_records(self, subset: str) -> List[ReIDRecord]:
        """Read the list files of ``subset`` (see :class:`BaseReIDDataset`)."""
        train_dir, test_dir = self.VERSIONS[self.version]
        if subset == 'train':
            lists = ['list_train.txt'] + (['list_val.txt'] if self.use_val_in_train else [])
            img_dir = train_dir
        else:
            lists = [f'list_{subset}.txt']
            img_dir = test_dir
        img_dir = self.check_exists(osp.join(self.dataset_dir, img_dir))
        records = []
        for list_name in lists:
            list_file = self.check_exists(osp.join(self.dataset_dir, list_name), kind='file')
            for line_no, line in enumerate(list_from_file(list_file), 1):
                if not line.strip():
                    continue
                fields = line.split()
                if len(fields) != 2 or not fields[1].lstrip('-').isdigit():
                    raise ValueError(f'MSMT17: line {line_no} of {list_file} is {line!r}, expected '
                                     f"'<relative path> <pid>'")
                _, cam = self.parse_name(osp.basename(fields[0]), f'{list_file}:{line_no}')
                records.append((osp.join(img_dir, fields[0]), int(fields[1]), cam))
        return records
