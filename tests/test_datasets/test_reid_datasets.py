# Copyright (c) OpenMMLab. All rights reserved.
"""Re-ID dataset parsers on miniature copies of each layout (empty files
with the real naming schemes, written in ``tmp_path``)."""
import os
import os.path as osp

import pytest
from mmpretrain.registry import DATASETS
from mmpretrain.utils import register_all_modules

import dcal_mm  # noqa: F401
from dcal_mm.datasets import CUHK03, MSMT17, DukeMTMC, Market1501, VeRi776

register_all_modules()

# mmengine's serialisation runs gc.collect() (~0.5 s per dataset here); the parsing is the same without it


def touch(folder, names):
    os.makedirs(folder, exist_ok=True)
    for name in names:
        open(osp.join(folder, name), 'wb').close()


def infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def summary(dataset):
    """(file name, gt_label, cam_id[, is_query]) per sample, in order."""
    return [(osp.basename(i['img_path']), i['gt_label'], i['cam_id']) + ((i['is_query'], ) if 'is_query' in i else ())
            for i in infos(dataset)]


# ---------------------------------------------------------------- Market-1501
def make_market(root):
    base = osp.join(root, 'Market-1501-v15.09.15')
    touch(
        osp.join(base, 'bounding_box_train'),
        ['0007_c3s1_000100_01.jpg', '0002_c1s1_000451_03.jpg', '0002_c2s1_000500_01.jpg', '0005_c6s2_010101_02.jpg',
         'Thumbs.db'])
    touch(osp.join(base, 'query'), ['0001_c1s1_001051_00.jpg', '0003_c4s1_000200_00.jpg'])
    touch(
        osp.join(base, 'bounding_box_test'),
        ['0001_c2s1_001100_01.jpg', '0003_c5s3_000300_02.jpg', '0000_c1s1_000151_01.jpg', '-1_c2s1_000401_03.jpg',
         '-1_c1s1_000402_01.jpg', 'Thumbs.db'])
    return base


def test_market_train_relabels_in_sorted_pid_order(tmp_path):
    make_market(tmp_path)
    ds = Market1501(serialize_data=False, data_root=str(tmp_path), split='train')
    # files are read in name order; pids 2, 5, 7 -> labels 0, 1, 2; cams 0-based
    assert summary(ds) == [
        ('0002_c1s1_000451_03.jpg', 0, 0),
        ('0002_c2s1_000500_01.jpg', 0, 1),
        ('0005_c6s2_010101_02.jpg', 1, 5),
        ('0007_c3s1_000100_01.jpg', 2, 2),
    ]
    assert ds.metainfo['num_ids'] == 3
    assert ds.get_gt_labels().tolist() == [0, 0, 1, 2]
    assert ds.get_data_info(0)['img_path'] == osp.join(str(tmp_path), 'Market-1501-v15.09.15', 'bounding_box_train',
                                                       '0002_c1s1_000451_03.jpg')


def test_market_test_split_query_then_gallery(tmp_path):
    make_market(tmp_path)
    ds = Market1501(serialize_data=False, data_root=str(tmp_path), split='test')
    # junk (-1) dropped, distractor (0000) kept with its raw pid, original pids
    assert summary(ds) == [
        ('0001_c1s1_001051_00.jpg', 1, 0, True),
        ('0003_c4s1_000200_00.jpg', 3, 3, True),
        ('0000_c1s1_000151_01.jpg', 0, 0, False),
        ('0001_c2s1_001100_01.jpg', 1, 1, False),
        ('0003_c5s3_000300_02.jpg', 3, 4, False),
    ]
    assert ds.metainfo['num_query'] == 2
    assert ds.metainfo['num_gallery'] == 3
    assert 'num_ids' not in ds.metainfo


def test_market_built_from_registry_lazily(tmp_path):
    make_market(tmp_path)
    ds = DATASETS.build(dict(type='Market1501', data_root=str(tmp_path), split='train', lazy_init=True))
    assert 'num_ids' not in ds.metainfo
    ds.full_init()
    assert ds.metainfo['num_ids'] == 3 and len(ds) == 4


def test_dataset_dir_empty_means_data_root_is_the_dataset(tmp_path):
    base = make_market(tmp_path)
    ds = Market1501(serialize_data=False, data_root=base, split='train', dataset_dir='')
    assert len(ds) == 4


def test_market_missing_folder(tmp_path):
    base = make_market(tmp_path)
    os.rename(osp.join(base, 'query'), osp.join(base, 'queries'))
    with pytest.raises(FileNotFoundError, match=r'Market-1501-v15\.09\.15/query does not exist'):
        Market1501(serialize_data=False, data_root=str(tmp_path), split='test')
    # the train split does not need the query folder
    assert len(Market1501(serialize_data=False, data_root=str(tmp_path), split='train')) == 4
    with pytest.raises(FileNotFoundError, match='elsewhere'):
        Market1501(serialize_data=False, data_root=str(tmp_path / 'elsewhere'))


def test_market_bad_file_name(tmp_path):
    base = make_market(tmp_path)
    touch(osp.join(base, 'bounding_box_train'), ['0002_c1_f0046182.jpg'])
    with pytest.raises(ValueError, match=r'bounding_box_train/0002_c1_f0046182\.jpg does not match'):
        Market1501(serialize_data=False, data_root=str(tmp_path))


def test_market_camera_out_of_range(tmp_path):
    base = make_market(tmp_path)
    touch(osp.join(base, 'bounding_box_train'), ['0009_c7s1_000100_01.jpg'])
    with pytest.raises(ValueError, match=r'camera 7 in .*0009_c7s1_000100_01\.jpg is outside 1\.\.6'):
        Market1501(serialize_data=False, data_root=str(tmp_path))


def test_market_empty_query(tmp_path):
    base = make_market(tmp_path)
    for name in os.listdir(osp.join(base, 'query')):
        os.remove(osp.join(base, 'query', name))
    with pytest.raises(ValueError, match='query set .* is empty'):
        Market1501(serialize_data=False, data_root=str(tmp_path), split='test')
    # a junk query is an error of its own (it has no true match)
    touch(osp.join(base, 'query'), ['-1_c1s1_000001_00.jpg'])
    with pytest.raises(ValueError, match='query image .*-1_c1s1_000001_00.jpg has the junk identity -1'):
        Market1501(serialize_data=False, data_root=str(tmp_path), split='test')


def test_bad_split(tmp_path):
    make_market(tmp_path)
    with pytest.raises(ValueError, match="split must be one of .* got 'query'"):
        Market1501(serialize_data=False, data_root=str(tmp_path), split='query')


# ---------------------------------------------------------------- DukeMTMC-reID
def test_dukemtmc(tmp_path):
    base = tmp_path / 'DukeMTMC-reID'
    touch(base / 'bounding_box_train', ['0005_c2_f0046182.jpg', '0001_c8_f0000001.jpg', '0001_c1_f0000002.jpg'])
    touch(base / 'query', ['0003_c5_f0100000.jpg'])
    touch(base / 'bounding_box_test', ['0003_c6_f0100001.jpg', '0010_c3_f0100002.jpg'])
    train = DukeMTMC(serialize_data=False, data_root=str(tmp_path))
    assert summary(train) == [('0001_c1_f0000002.jpg', 0, 0), ('0001_c8_f0000001.jpg', 0, 7),
                              ('0005_c2_f0046182.jpg', 1, 1)]
    assert train.metainfo['num_ids'] == 2
    test = DukeMTMC(serialize_data=False, data_root=str(tmp_path), split='test')
    assert summary(test) == [('0003_c5_f0100000.jpg', 3, 4, True), ('0003_c6_f0100001.jpg', 3, 5, False),
                             ('0010_c3_f0100002.jpg', 10, 2, False)]
    touch(base / 'bounding_box_train', ['0002_c1s1_000451_03.jpg'])  # a Market name
    with pytest.raises(ValueError, match=r'0002_c1s1_000451_03\.jpg does not match'):
        DukeMTMC(serialize_data=False, data_root=str(tmp_path))


# ---------------------------------------------------------------- VeRi-776
def test_veri776(tmp_path):
    base = tmp_path / 'VeRi'
    touch(base / 'image_train', ['0002_c002_00030600_0.jpg', '0776_c020_00012345_1.jpg', '0002_c011_00030700_0.jpg'])
    touch(base / 'image_query', ['0006_c001_00000001_0.jpg'])
    touch(base / 'image_test', ['0006_c003_00000002_0.jpg', '0006_c001_00000003_0.jpg'])
    train = VeRi776(serialize_data=False, data_root=str(tmp_path))
    assert summary(train) == [('0002_c002_00030600_0.jpg', 0, 1), ('0002_c011_00030700_0.jpg', 0, 10),
                              ('0776_c020_00012345_1.jpg', 1, 19)]
    test = VeRi776(serialize_data=False, data_root=str(tmp_path), split='test')
    assert [s[3] for s in summary(test)] == [True, False, False]
    assert [s[2] for s in summary(test)] == [0, 0, 2]
    touch(base / 'image_train', ['0003_c021_00000001_0.jpg'])
    with pytest.raises(ValueError, match='camera 21 .* outside 1..20'):
        VeRi776(serialize_data=False, data_root=str(tmp_path))
    os.rename(base / 'image_test', base / 'image_gallery')
    with pytest.raises(FileNotFoundError, match='VeRi/image_test'):
        VeRi776(serialize_data=False, data_root=str(tmp_path), split='test')


# ---------------------------------------------------------------- MSMT17
def make_msmt(root, version='V1'):
    base = osp.join(root, f'MSMT17_{version}')
    train_dir, test_dir = MSMT17.VERSIONS[version]
    os.makedirs(osp.join(base, train_dir))
    os.makedirs(osp.join(base, test_dir))
    lists = dict(
        train=['0003/0003_000_01_0303morning_0015_0.jpg 3', '0000/0000_001_15_0303noon_0100_1.jpg 0', ''],
        val=['0003/0003_005_07_0303afternoon_0200_0.jpg 3', '0001/0001_002_02_0304morning_0001_0.jpg 1'],
        query=['0000/0000_000_04_0303morning_0001_0.jpg 0'],
        gallery=['0000/0000_001_05_0303morning_0002_0.jpg 0', '0002/0002_000_04_0303morning_0003_0.jpg 2'])
    for name, lines in lists.items():
        with open(osp.join(base, f'list_{name}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return base


@pytest.mark.parametrize('version', ['V1', 'V2'])
def test_msmt17_train_with_and_without_val(tmp_path, version):
    base = make_msmt(tmp_path, version)
    train_dir = osp.join(base, MSMT17.VERSIONS[version][0])
    ds = MSMT17(serialize_data=False, data_root=str(tmp_path), version=version)
    # list order: list_train then list_val; pids 0, 1, 3 -> labels 0, 1, 2; cam = third name field - 1
    assert [(i['img_path'], i['gt_label'], i['cam_id']) for i in infos(ds)] == [
        (osp.join(train_dir, '0003/0003_000_01_0303morning_0015_0.jpg'), 2, 0),
        (osp.join(train_dir, '0000/0000_001_15_0303noon_0100_1.jpg'), 0, 14),
        (osp.join(train_dir, '0003/0003_005_07_0303afternoon_0200_0.jpg'), 2, 6),
        (osp.join(train_dir, '0001/0001_002_02_0304morning_0001_0.jpg'), 1, 1),
    ]
    assert ds.metainfo['num_ids'] == 3
    no_val = MSMT17(serialize_data=False, data_root=str(tmp_path), version=version, use_val_in_train=False)
    assert summary(no_val) == [('0003_000_01_0303morning_0015_0.jpg', 1, 0), ('0000_001_15_0303noon_0100_1.jpg', 0, 14)]
    assert no_val.metainfo['num_ids'] == 2


def test_msmt17_test_split(tmp_path):
    base = make_msmt(tmp_path)
    ds = MSMT17(serialize_data=False, data_root=str(tmp_path), split='test')
    # pid 0 of the test lists is a real person and keeps its label
    assert summary(ds) == [('0000_000_04_0303morning_0001_0.jpg', 0, 3, True),
                           ('0000_001_05_0303morning_0002_0.jpg', 0, 4, False),
                           ('0002_000_04_0303morning_0003_0.jpg', 2, 3, False)]
    assert ds.get_data_info(0)['img_path'] == osp.join(base, 'test', '0000/0000_000_04_0303morning_0001_0.jpg')


def test_msmt17_errors(tmp_path):
    base = make_msmt(tmp_path)
    with pytest.raises(ValueError, match="version must be one of .* got 'V3'"):
        MSMT17(serialize_data=False, data_root=str(tmp_path), version='V3')
    with pytest.raises(FileNotFoundError, match='MSMT17_V2'):
        MSMT17(serialize_data=False, data_root=str(tmp_path), version='V2')
    os.remove(osp.join(base, 'list_val.txt'))
    with pytest.raises(FileNotFoundError, match=r'file .*list_val\.txt does not exist'):
        MSMT17(serialize_data=False, data_root=str(tmp_path))
    assert len(MSMT17(serialize_data=False, data_root=str(tmp_path), use_val_in_train=False)) == 2
    with open(osp.join(base, 'list_query.txt'), 'w') as f:
        f.write('0000/0000_000_04_0303morning_0001_0.jpg\n')
    with pytest.raises(ValueError, match=r"line 1 of .*list_query\.txt is '0000/0000_000_04_0303morning_0001_0\.jpg'"):
        MSMT17(serialize_data=False, data_root=str(tmp_path), split='test')
    with open(osp.join(base, 'list_query.txt'), 'w') as f:
        f.write('0000/0000_000_16_0303morning_0001_0.jpg 0\n')
    with pytest.raises(ValueError, match=r'camera 16 in .*list_query\.txt:1 is outside 1\.\.15'):
        MSMT17(serialize_data=False, data_root=str(tmp_path), split='test')
    with open(osp.join(base, 'list_query.txt'), 'w') as f:
        f.write('\n')
    with pytest.raises(ValueError, match='query set .* is empty'):
        MSMT17(serialize_data=False, data_root=str(tmp_path), split='test')


# ---------------------------------------------------------------- CUHK03-NP
@pytest.mark.parametrize('variant', ['detected', 'labeled'])
def test_cuhk03_np(tmp_path, variant):
    base = tmp_path / 'cuhk03-np' / variant
    touch(base / 'bounding_box_train', ['0012_c2_5.png', '0004_c1_1.png', '0004_c2_6.png'])
    touch(base / 'query', ['0001_c1_1.png', '0002_c2_7.jpg'])
    touch(base / 'bounding_box_test', ['0001_c2_6.png', '0002_c1_2.png'])
    train = CUHK03(serialize_data=False, data_root=str(tmp_path), variant=variant)
    assert summary(train) == [('0004_c1_1.png', 0, 0), ('0004_c2_6.png', 0, 1), ('0012_c2_5.png', 1, 1)]
    assert train.metainfo['num_ids'] == 2
    test = CUHK03(serialize_data=False, data_root=str(tmp_path), split='test', variant=variant)
    assert summary(test) == [('0001_c1_1.png', 1, 0, True), ('0002_c2_7.jpg', 2, 1, True),
                             ('0001_c2_6.png', 1, 1, False), ('0002_c1_2.png', 2, 0, False)]
    other = 'labeled' if variant == 'detected' else 'detected'
    with pytest.raises(FileNotFoundError, match=f'cuhk03-np/{other}/bounding_box_train'):
        CUHK03(serialize_data=False, data_root=str(tmp_path), variant=other)


def test_cuhk03_errors(tmp_path):
    with pytest.raises(ValueError, match="variant must be one of .* got 'both'"):
        CUHK03(serialize_data=False, data_root=str(tmp_path), variant='both')
    touch(tmp_path / 'cuhk03-np' / 'detected' / 'bounding_box_train', ['0001_c3_1.png'])
    with pytest.raises(ValueError, match='camera 3 .* outside 1..2'):
        CUHK03(serialize_data=False, data_root=str(tmp_path))
