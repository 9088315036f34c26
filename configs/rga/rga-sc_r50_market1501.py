# RGA-SC (ResNet-50, last stride 1) on Market-1501 at 256x128 with the official recipe: Adam 8e-4, 600 epochs,
# label-smoothed CE + batch-hard triplet (margin 0.3), P x K = 16 x 4. Paper: mAP 88.4, Rank-1 96.1.
_base_ = [
    '../_base_/datasets/market1501.py',
    '../_base_/default_runtime.py',
    './_rga-sc_r50_recipe.py',
]
model = dict(head=dict(num_classes=_base_.num_ids))
train_dataloader = dict(sampler=_base_.rga_sampler, dataset=dict(pipeline=_base_.rga_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.rga_test_pipeline))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(interval=40, save_best=None))  # report the final checkpoint
