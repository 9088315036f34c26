# The generated pretraining corpus (python tools/misc/make_pretrained_demo.py, or
# dcal_mm.datasets.demo.make_pretrain_corpus('data/pretrain_corpus')): 128 classes (shape x texture, each with its hue) of 64x64
# images in a folder-per-class layout, read by MMPretrain's plain CustomDataset (labels in folder order).
# Train: random resized crop (50-100% of the area) + flip; val: the images as they are (already 64x64).
dataset_type = 'CustomDataset'
data_root = 'data/pretrain_corpus'
num_classes = 128

# the demos' normalisation (ImageNet statistics, as the FGVC and Re-ID configs use), so the features transfer as
# they are
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # at least half the image: the object spans 40-80% of its side, so a crop rarely loses the class
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
