# Copyright (c) OpenMMLab. All rights reserved.
from .clan_resnet import CLANResNet
from .dcal_vit import DCALViT
from .rga_resnet import RGAResNet50

__all__ = ['CLANResNet', 'DCALViT', 'RGAResNet50']
