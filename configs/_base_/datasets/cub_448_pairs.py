# cub_448 with every training image paired with a random partner for PWCA (DCAL)
_base_ = ['./cub_448.py']
train_dataloader = dict(
    dataset=dict(_delete_=True, type='PairDataset', policy='random', dataset={{_base_.train_dataloader.dataset}}))
custom_hooks = [dict(type='PairEpochHook')]
