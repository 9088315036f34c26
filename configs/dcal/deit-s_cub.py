# DCAL, DeiT-Small, CUB-200-2011 at 448x448 (paper: 87.6 top-1)
_base_ = [
    '../_base_/models/dcal_vit.py',
    '../_base_/datasets/cub_448.py',
    '../_base_/schedules/fgvc_adamw_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='deit-small',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/deit_small_patch16_224.fb_in1k.safetensors')),
    head=dict(num_classes=200, in_channels=384),
)
