# DCAL, DeiT-Small, VeRi-776 at 256x256 (paper: 78.1 mAP / 95.9 Rank-1)
_base_ = [
    '../_base_/models/dcal_reid.py',
    '../_base_/datasets/veri776.py',
    '../_base_/schedules/reid_sgd_120e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        arch='deit-small',
        img_size=_base_.img_size,  # 256x256 for vehicles
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/deit_small_patch16_224.fb_in1k.safetensors')),
    head=dict(num_classes=_base_.num_ids, in_channels=384),
)
