# demo_fgvc_finetune.py on batches of 8 classes x 2 images (PairSampler), so that every PWCA partner policy of the
# paper's Table 4 runs: set model.pwca.partner_policy to 'random', 'intra', 'inter' or 'mixed'.
_base_ = ['./demo_fgvc_finetune.py']
train_dataloader = dict(
    sampler=dict(_delete_=True, type='PairSampler', num_classes=8, num_instances=2),
    batch_sampler=dict(type='PKBatchSampler'))
