# DukeMTMC-reID at 256x128 with the Market-1501 recipe (TransReID baseline).
_base_ = ['./market1501.py']
dataset_type = 'DukeMTMC'
data_root = 'data'  # holds DukeMTMC-reID/
num_ids = 702
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
