# CLAN (2-scale, ResNet-50) on CUB-200-2011 at 448x448.
_base_ = [
    '../_base_/models/clan_r50.py',
    '../_base_/datasets/cub_448.py',
    '../_base_/schedules/clan_sgd_100e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=_base_.num_classes))
