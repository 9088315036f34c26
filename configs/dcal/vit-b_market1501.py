# DCAL, ViT-Base (ImageNet-21k), Market-1501 at 256x128 (paper: 87.5 mAP / 94.7 Rank-1)
_base_ = [
    '../_base_/models/dcal_reid.py',
    '../_base_/datasets/market1501.py',
    '../_base_/schedules/reid_sgd_120e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='vit-base',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/vit_base_patch16_224.orig_in21k.safetensors')),
    head=dict(num_classes=_base_.num_ids, in_channels=768),
)
