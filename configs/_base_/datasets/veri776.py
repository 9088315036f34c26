# VeRi-776 at 256x256 with the TransReID baseline recipe (vehicles are square).
_base_ = ['./market1501.py']
dataset_type = 'VeRi776'
data_root = 'data'  # holds VeRi/
num_ids = 576
img_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_size[::-1], interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=img_size, padding=10, pad_val=0),
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
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
