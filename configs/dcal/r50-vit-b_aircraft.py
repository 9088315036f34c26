# DCAL, R50-ViT-Base (ImageNet-21k), FGVC-Aircraft at 448x448 (paper: 93.3 top-1)
_base_ = [
    '../_base_/models/dcal_vit.py',
    '../_base_/datasets/aircraft_448.py',
    '../_base_/schedules/fgvc_adamw_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='r50-vit-base',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/vit_base_r50_s16_224.orig_in21k.safetensors')),
    head=dict(num_classes=100, in_channels=768),
)
