# DCAL, DeiT-Small, DukeMTMC-reID at 256x128 (paper: 77.4 mAP / 87.9 Rank-1)
_base_ = [
    '../_base_/models/dcal_reid.py',
    '../_base_/datasets/dukemtmc.py',
    '../_base_/schedules/reid_sgd_120e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='deit-small',
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/deit_small_patch16_224.fb_in1k.safetensors')),
    head=dict(num_classes=_base_.num_ids, in_channels=384),
)
