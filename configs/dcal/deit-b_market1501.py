# DCAL, DeiT-Base, Market-1501 at 256x128 (paper: 87.2 mAP / 94.5 Rank-1)
_base_ = [
    '../_base_/models/dcal_reid.py',
    '../_base_/datasets/market1501.py',
    '../_base_/schedules/reid_sgd_120e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='deit-base',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/deit_base_patch16_224.fb_in1k.safetensors')),
    head=dict(num_classes=_base_.num_ids, in_channels=768),
)
