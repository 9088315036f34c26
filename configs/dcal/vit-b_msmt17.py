# DCAL, ViT-Base (ImageNet-21k), MSMT17 at 256x128 (paper: 64.0 mAP / 83.1 Rank-1)
_base_ = [
    '../_base_/models/dcal_reid.py',
    '../_base_/datasets/msmt17.py',
    '../_base_/schedules/reid_sgd_120e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='vit-base',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/vit_base_patch16_224.orig_in21k.safetensors')),
    head=dict(num_classes=_base_.num_ids, in_channels=768),
)
