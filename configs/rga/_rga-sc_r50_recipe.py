# Shared RGA-SC (ResNet-50) recipe for the configs in this folder; not runnable on its own (no data). A leaf config
# inherits it beside a dataset base and sets:
#   model = dict(head=dict(num_classes=_base_.num_ids))
#   train_dataloader = dict(sampler=_base_.rga_sampler, dataset=dict(pipeline=_base_.rga_train_pipeline)), and the
#   test pipeline likewise
#   default_hooks = dict(checkpoint=dict(interval=40, save_best=None))  # no model selection on the test split
# Source: the official code (microsoft/Relation-Aware-Global-Attention-Networks, scripts/run_rgasc_cuhk03.sh,
# main_imgreid.py, reid/utils/lr_scheduler.py, reid/loss/loss_set.py, reid/utils/data/transforms.py).
# Pretrained: torchvision's ImageNet ResNet-50, https://download.pytorch.org/models/resnet50-19c8e357.pth (the file
# the official code loads; resnet50-0676ba61.pth and timm resnet50 state dicts have the same keys and load too).
rga_input_size = (256, 128)  # (h, w); the RGA modules are built for it

model = dict(
    type='ReIDClassifier',
    # Official: torchvision ToTensor + ImageNet Normalize. Set here rather than at the top level because the dataset
    # bases define their own (mean = std = 127.5 for ViTs) and the model's entry wins.
    data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(
        type='RGAResNet50',
        height=rga_input_size[0],
        width=rga_input_size[1],
        branch='rgasc',
        last_stride=1,
        cha_ratio=8,
        spa_ratio=8,
        down_ratio=8,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-19c8e357.pth')),
    neck=None,
    head=dict(
        type='ReIDHead',
        num_classes=751,  # leaf configs set the dataset's number of training identities
        in_channels=2048,
        # CrossEntropyLabelSmoothLoss(epsilon=0.1): (1 - eps) * onehot + eps / K
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original', loss_weight=1.0),
        # TripletHardLoss(margin=0.3) on the pre-BN feature, Euclidean, no feature normalisation
        loss_triplet=dict(type='TripletLoss', margin=0.3, normalize_feature=False, loss_weight=1.0),
        # The official evaluation reports both the pre-BN (feat_) and post-BN (feat) features; we use pre-BN.
        neck_feat='before',
        cal_acc=True),
)

# Official augmentation: Random2DTranslation (p=0.5: enlarge by 1/8 with PIL bilinear, then random crop back;
# otherwise a plain resize), horizontal flip, ImageNet normalisation, then RandomErasing(p=0.5, area 2%-40%,
# aspect >= 0.3) filling 0 in normalised units, i.e. the ImageNet mean colour here (BGR, before to_rgb).
rga_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomApply',
        prob=0.5,
        transforms=[
            dict(
                type='Resize',
                scale=(round(rga_input_size[1] * 1.125), round(rga_input_size[0] * 1.125)),
                interpolation='bilinear',
                backend='pillow'),
            dict(type='RandomCrop', crop_size=rga_input_size),
        ]),
    dict(type='Resize', scale=rga_input_size[::-1], interpolation='bilinear', backend='pillow'),  # no-op after the crop
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=0.4,
        aspect_range=(0.3, 1 / 0.3),
        mode='const',
        fill_color=(103.53, 116.28, 123.675)),
    dict(type='PackInputs', algorithm_keys=('cam_id', )),
]
rga_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=rga_input_size[::-1], interpolation='bilinear', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=('cam_id', 'is_query')),
]

# The official RandomIdentitySampler's epoch is #identities x 4 images (every identity once), not every image once:
# Market-1501's 751 ids give 46 batches of 16 x 4 per epoch (every image once would be ~4x more; CUHK03 ~2x). The
# epochs below (600, warm-up 20, steps from 80) count such epochs, so the sampler must too.
rga_sampler = dict(type='PKSampler', num_ids=16, num_instances=4, shuffle=True, epoch_mode='identities')

# Adam (L2 weight decay 5e-4 on every parameter) at 8e-4 for a batch of 64 = 16 ids x 4 images. Per epoch: linear
# warm-up from 8e-6 over 20 epochs (lr = 8e-6 + (8e-4 - 8e-6) * e / 20 for e < 20; mmengine's LinearLR reaches
# end_factor at step end - 1, hence end=21), then x0.5 at epochs 80, 120, ..., 360; 600 epochs.
optim_wrapper = dict(optimizer=dict(type='Adam', lr=8e-4, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, end_factor=1.0, by_epoch=True, begin=0, end=21),
    dict(type='MultiStepLR', milestones=list(range(80, 361, 40)), gamma=0.5, by_epoch=True, begin=0, end=600),
]
# The official code reports the final (epoch 600) checkpoint: so do we (tools/test.py on epoch_600.pth). Validation
# every 40 epochs (on the test split, the only held-out data) is for monitoring; the leaves turn save_best off so that
# no checkpoint is selected on the test split.
train_cfg = dict(by_epoch=True, max_epochs=600, val_interval=40)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
