# CUB-200-2011 at 224x224 with GLSim's "medaugs" (official code, configs/augs/medaugs.yaml + build_transform.py):
# train: square resize to int(224 * 1.34) = 300 (bicubic, PIL) -> random crop 224 -> horizontal flip
#        -> TrivialAugmentWide (torchvision, default arguments, through mmpretrain's `torchvision/` wrapper on a PIL
#        image) -> random erasing p=0.3, area 0.02-0.4, aspect 0.3-3.3;
# test:  square resize to 300 (bicubic) -> center crop 224.
# Random erasing: the official code erases the normalised tensor with 0 (torchvision's default), i.e. the
# dataset mean; here it runs on the uint8 BGR image before the data preprocessor with the mean colour (rounded
# to uint8), and mmpretrain clips an oversized patch instead of torchvision's 10 re-draws.
_base_ = ['./cub_448.py']
img_size = 224
resize_size = 300
bgr_mean = [103.53, 116.28, 123.675]

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(resize_size, resize_size), backend='pillow', interpolation='bicubic'),
    dict(type='RandomCrop', crop_size=img_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/TrivialAugmentWide'),
    dict(type='PILToNumpy', to_bgr=True),
    dict(
        type='RandomErasing',
        erase_prob=0.3,
        min_area_ratio=0.02,
        max_area_ratio=0.4,
        aspect_range=(0.3, 3.3),
        mode='const',
        fill_color=bgr_mean),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(resize_size, resize_size), backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]

train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
