# Stanford Cars (196 classes) with the CUB 448 recipe
_base_ = ['./cub_448.py']
dataset_type = 'StanfordCars'
data_root = 'data/stanfordcars'
num_classes = 196
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = val_dataloader
