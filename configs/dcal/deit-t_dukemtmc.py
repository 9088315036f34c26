# DCAL, DeiT-Tiny, DukeMTMC-reID at 256x128 (paper: 71.7 mAP / 84.9 Rank-1)
_base_ = [
    '../_base_/models/dcal_reid.py',
    '../_base_/datasets/dukemtmc.py',
    '../_base_/schedules/reid_sgd_120e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='deit-tiny',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/deit_tiny_patch16_224.fb_in1k.safetensors')),
    head=dict(num_classes=_base_.num_ids, in_channels=192),
)
