# GLSim, ViT-B/16 (ImageNet-21k), FGVC-Aircraft (100 variants; trainval -> test) at 448x448, CUB recipe.
# No published GLSim result on Aircraft.
_base_ = ['./glsim_vit-b_cub-448.py']
num_classes = 100
model = dict(head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)
dataset_type = 'FGVCAircraft'
data_root = 'data/fgvc_aircraft'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='trainval'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = val_dataloader
