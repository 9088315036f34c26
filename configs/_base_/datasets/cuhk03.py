# CUHK03-NP (new protocol, 767/700 ids), detected boxes, at 256x128 with the Market-1501 recipe.
# For the hand-drawn boxes set variant='labeled' in both dataloaders.
_base_ = ['./market1501.py']
dataset_type = 'CUHK03'
data_root = 'data'  # holds cuhk03-np/{detected,labeled}/
num_ids = 767
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, variant='detected'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, variant='detected'))
test_dataloader = val_dataloader
