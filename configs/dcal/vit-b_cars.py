# DCAL, ViT-Base (ImageNet-21k), Stanford Cars at 448x448 (paper: 93.4 top-1)
_base_ = [
    '../_base_/models/dcal_vit.py',
    '../_base_/datasets/cars_448.py',
    '../_base_/schedules/fgvc_adamw_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='vit-base',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/vit_base_patch16_224.orig_in21k.safetensors')),
    head=dict(num_classes=196, in_channels=768),
)
