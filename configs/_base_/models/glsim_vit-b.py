# GLSim, ViT-B/16 (ImageNet-21k) at 224x224; leaves set img_size, num_classes and the checkpoint.
# Official GLSim: O = 8 most class-similar patches -> crop -> second pass -> 1-block aggregator -> head on the
# original image's slot; single label-smoothed (0.1) cross-entropy; stochastic depth 0.1 in every block (uniform, as
# the official code); zero-initialised head.
model = dict(
    type='GLSim',
    backbone=dict(
        type='DCALViT',
        arch='vit-base',
        img_size=224,
        drop_path_rate=0.1,
        drop_path_mode='uniform',  # official: 0.1 in every block (not timm's linear rise)
        pos_embed_interp='linear',  # official: linear resize of the 14x14 position embedding (448: 28x28)
        out_type='raw',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/vit_base_patch16_224.orig_in21k.safetensors')),
    num_selected=8,
    box_mode='official',
    aggregator_depth=1,
    aggregator_cfg=dict(drop_path=0.1),
    head=dict(
        type='LinearClsHead',
        num_classes=200,
        in_channels=768,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original', loss_weight=1.0),
        init_cfg=dict(type='Constant', layer='Linear', val=0.)),
)
