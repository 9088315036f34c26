# FGVC-Aircraft (100 variants; train on trainval, test on test) with the CUB 448 recipe
_base_ = ['./cub_448.py']
dataset_type = 'FGVCAircraft'
data_root = 'data/fgvc_aircraft'
num_classes = 100
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='trainval'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = val_dataloader
