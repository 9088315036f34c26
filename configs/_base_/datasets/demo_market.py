# The generated demo Re-ID set (dcal_mm.datasets.make_demo_market1501('data/demo')) in Market-1501's layout:
# 64x32 images, 40 train ids; the Market-1501 recipe scaled to 64x32 (pad 3 ~ 10 x 64 / 256), P x K = 8 x 4.
_base_ = ['./market1501.py']
data_root = 'data/demo'  # holds Market-1501-v15.09.15/
num_ids = 40
img_size = (64, 32)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_size[::-1], interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=img_size, padding=3, pad_val=0),
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        aspect_range=(0.3, 1 / 0.3),
        mode='rand',
        fill_color=(127.5, 127.5, 127.5),
        fill_std=(127.5, 127.5, 127.5)),
    dict(type='PackInputs', algorithm_keys=('cam_id', )),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_size[::-1], interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=('cam_id', 'is_query')),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline),
    sampler=dict(num_ids=8, num_instances=4))
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
