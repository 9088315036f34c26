# MSMT17 (V1) at 256x128 with the Market-1501 recipe (TransReID baseline). Training uses list_train + list_val
# (32,621 images of 1,041 ids) as TransReID does; set use_val_in_train=False for the torchreid protocol.
_base_ = ['./market1501.py']
dataset_type = 'MSMT17'
data_root = 'data'  # holds MSMT17_V1/ (or MSMT17_V2/ with version='V2')
num_ids = 1041
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, version='V1', use_val_in_train=True))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, version='V1'))
test_dataloader = val_dataloader
