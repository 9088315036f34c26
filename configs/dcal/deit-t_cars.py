# DCAL, DeiT-Tiny, Stanford Cars at 448x448 (paper: 89.4 top-1)
_base_ = [
    '../_base_/models/dcal_vit.py',
    '../_base_/datasets/cars_448.py',
    '../_base_/schedules/fgvc_adamw_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='deit-tiny',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/deit_tiny_patch16_224.fb_in1k.safetensors')),
    head=dict(num_classes=196, in_channels=192),
)
