# veri776 with every training image paired with a random partner for PWCA (DCAL); the P x K sampler reads the
# identities through PairDataset.get_gt_labels, so batches stay P x K in the targets
_base_ = ['./veri776.py']
train_dataloader = dict(
    dataset=dict(_delete_=True, type='PairDataset', policy='random', dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [dict(type='PairEpochHook')]
