# RGA-SC (ResNet-50, last stride 1) on MSMT17 at 256x128 with the official recipe (see rga-sc_r50_market1501.py).
# The dataset base trains on list_train + list_val as TransReID does. Paper (unverified): mAP 57.5, Rank-1 80.3.
_base_ = [
    '../_base_/datasets/msmt17.py',
    '../_base_/default_runtime.py',
    './_rga-sc_r50_recipe.py',
]
model = dict(head=dict(num_classes=_base_.num_ids))
train_dataloader = dict(sampler=_base_.rga_sampler, dataset=dict(pipeline=_base_.rga_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.rga_test_pipeline))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(interval=40, save_best=None))  # report the final checkpoint
