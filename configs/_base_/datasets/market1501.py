# Market-1501 at 256x128, the TransReID baseline recipe: bicubic resize, flip 0.5, pad 10 + random crop,
# random erasing 0.5; normalise with mean = std = 127.5 (0.5 x 255); P x K = 16 x 4 = batch 64 per GPU.
# One test set = query then gallery (is_query), evaluated by ReIDMetric.
dataset_type = 'Market1501'
data_root = 'data'  # holds Market-1501-v15.09.15/
num_ids = 751
img_size = (256, 128)  # (h, w)

data_preprocessor = dict(
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # mmcv scale is (w, h); pillow bicubic like TransReID's torchvision Resize
    dict(type='Resize', scale=img_size[::-1], interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=img_size, padding=10, pad_val=0),
    # TransReID: timm RandomErasing(p=0.5, mode='pixel') after normalisation, i.e. per-pixel N(0, 1) in
    # normalised units, area 2%-33%, aspect 0.3-3.3. Closest here: per-pixel normal with mean 127.5 and
    # std 127.5 on the raw image (the same distribution once normalised), clipped to [0, 255].
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
    batch_size=64,  # per GPU, must equal num_ids x num_instances (PKBatchSampler checks it)
    num_workers=8,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
    sampler=dict(type='PKSampler', num_ids=16, num_instances=4, shuffle=True),
    batch_sampler=dict(type='PKBatchSampler'),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='ReIDMetric')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
# tools/test.py --tta: mean of the features of the image and its mirror, L2-normalised (fast-reid's TEST.FLIP)
tta_model = dict(type='AverageReIDFeatureTTA')
