# CLAN (2-scale) on a timm ResNet-50: conv3_x and conv4_x are the mid levels,
# conv5_x the top level. Leaf configs set ``model.head.num_classes``.
# Pretrained weights: torchvision's ImageNet-1k ResNet-50 state dict
# (https://download.pytorch.org/models/resnet50-0676ba61.pth, IMAGENET1K_V1,
# the weights of the paper's era). timm ``resnet50.a1_in1k`` files
# (``model.safetensors`` / ``pytorch_model.bin``) have the same keys and load too.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='CLANResNet',
        arch='resnet50',
        out_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-0676ba61.pth')),
    neck=dict(
        type='CLANNeck',
        in_channels=(512, 1024, 2048),
        clca_reduction=2,
        clca_normalize='softmax',
        clca_use_scale=True,
        clca_upsample='bilinear',
        clca_zero_init=True,
        clsa_kernel_size=7,
        clsa_downsample='avg',
        clsa_residual=False,
        fuse='concat',
        pool='avg'),
    head=dict(
        type='CLANHead',
        num_classes=200,
        # mid1 (conv3_x), mid2 (conv4_x), top (conv5_x), fused (CLSA-refined conv5_x, concatenated)
        in_channels=(512, 1024, 2048, 4096),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        combine='prob_mean'))
