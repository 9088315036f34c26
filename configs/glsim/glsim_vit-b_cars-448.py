# GLSim, ViT-B/16 (ImageNet-21k), Stanford Cars (196 classes) at 448x448, CUB recipe except the resize: the
# official code resizes Cars to int(448 / 0.875) = 512 instead of int(448 * 1.34) = 600.
# No published GLSim result on Cars.
_base_ = ['./glsim_vit-b_cub-448.py']
num_classes = 196
model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)
dataset_type = 'StanfordCars'
data_root = 'data/stanfordcars'
img_size = 448
resize_size = 512
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
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
