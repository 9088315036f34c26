# Copyright (c) OpenMMLab. All rights reserved.
"""Every config in configs/dcal/ states the recipe it claims (issue 15, item 5).

The DCAL paper's recipe (the reference notes on the method, sections 1-2), one row per task family, is written
out below; each paper config must hold its family's row, each ``*_baseline`` config must be its DCAL twin with
GLCA and PWCA removed (same input size, drop path, data, schedule), and the demo configs must hold the values
their headers document (they deviate from the paper on purpose). Values a config leaves out are read as the
code's defaults (the class signatures), so changing a default that a config relies on is caught too.

Configs are discovered by glob: a config named in no table fails ``test_dcal_config_holds_its_recipe`` with
"add it to the table". Nothing is skipped.
"""
import glob
import inspect
import os.path as osp
from functools import lru_cache

import numpy as np
import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS, TRANSFORMS

import dcal_mm  # noqa: F401  (registers the DCAL modules whose defaults are read)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DCAL_DIR = osp.join(REPO, 'configs', 'dcal')
CONFIGS = sorted(osp.splitext(osp.basename(f))[0] for f in glob.glob(osp.join(DCAL_DIR, '*.py')))
THIS = 'tests/test_configs/test_dcal_paper_recipes.py'

# ---- the paper's recipe, one row per task family ---------------------------------------------------------------
# T: PWCA blocks (all 12 blocks of the 12-block backbones); R: GLCA's top_ratio; predict_mode: FGVC adds the SA and
# GLCA class probabilities ('sum'), Re-ID concatenates the SA and GLCA class tokens ('concat'), taken before the
# BNNecks (neck_feat='before'); stochastic depth 0.1 (the rate the paper leaves open: DeiT's / TransReID's, linear
# rise over the blocks as timm's and TransReID's), also in GLCA; dynamic (uncertainty) loss weights; queries by the
# rollout; random PWCA partners (Table 4's best). Input: FGVC resize 550 -> crop 448 (train random, test centre);
# Re-ID 256x128 persons, 256x256 vehicles (TransReID: resize to the input size, pad 10 + random crop back to it).
# Pipeline sizes are (h, w) after each geometric transform, in order.
_COMMON = dict(T=12, selection='rollout', partner_policy='random', drop_path_rate=0.1, drop_path_mode='linear',
               glca_drop_path_rate=0.1, loss_weighting='dynamic', with_glca=True, with_pwca=True)
FAMILIES = {
    'fgvc': dict(
        _COMMON, R=0.1, head='DCALClsHead', predict_mode='sum', neck_feat=None, loss='CrossEntropyLoss',
        triplet=None, img_size=(448, 448),
        train=[('Resize', (550, 550)), ('RandomCrop', (448, 448))],
        test=[('Resize', (550, 550)), ('CenterCrop', (448, 448))]),
    'person': dict(
        _COMMON, R=0.3, head='DCALReIDHead', predict_mode='concat', neck_feat='before', loss='CrossEntropyLoss',
        triplet=('TripletLoss', None), img_size=(256, 128),
        train=[('Resize', (256, 128)), ('RandomCrop', (256, 128))],
        test=[('Resize', (256, 128))]),
    'vehicle': dict(
        _COMMON, R=0.3, head='DCALReIDHead', predict_mode='concat', neck_feat='before', loss='CrossEntropyLoss',
        triplet=('TripletLoss', None), img_size=(256, 256),
        train=[('Resize', (256, 256)), ('RandomCrop', (256, 256))],
        test=[('Resize', (256, 256))]),
}
# backbone name in the config file name -> (arch, width, blocks)
ARCHS = {
    'deit-t': ('deit-tiny', 192, 12),
    'deit-s': ('deit-small', 384, 12),
    'deit-b': ('deit-base', 768, 12),
    'vit-b': ('vit-base', 768, 12),
    'r50-vit-b': ('r50-vit-base', 768, 12),
}
# dataset in the config file name -> (family, classes / training identities)
DATASETS = {
    'cub': ('fgvc', 200),
    'cars': ('fgvc', 196),
    'aircraft': ('fgvc', 100),
    'market1501': ('person', 751),
    'dukemtmc': ('person', 702),
    'msmt17': ('person', 1041),
    'veri776': ('vehicle', 576),
}
# The paper's settings (Tables 1 and 2): FGVC with five backbones, Re-ID with four (no R50-ViT-B).
_FGVC_ARCHS = ('deit-t', 'deit-s', 'deit-b', 'vit-b', 'r50-vit-b')
_REID_ARCHS = ('deit-t', 'deit-s', 'deit-b', 'vit-b')
PAPER_CONFIGS = {
    f'{arch}_{ds}': (arch, ds)
    for ds, (family, _) in DATASETS.items()
    for arch in (_FGVC_ARCHS if family == 'fgvc' else _REID_ARCHS)
}
# the SA-only twin of each paper config
BASELINES = {f'{name}_baseline': name for name in PAPER_CONFIGS}
# From-scratch demos on the generated data, with the deviations their headers document: a 4-block ViT (width 96,
# conv stem), no stochastic depth, small inputs (64x64: resize 72 -> crop 64, the 550/448 ratio; 64x32 Re-ID).
# T (PWCA in every block), R, prediction mode, feature position and loss weighting are the paper's.
_DEMO_ARCH = dict(embed_dims=96, num_layers=4, num_heads=3, patch_size=8, conv_stem=[32, 64, 128])
DEMOS = {
    'demo_fgvc': dict(
        FAMILIES['fgvc'], arch=_DEMO_ARCH, in_channels=96, depth=4, num_classes=10, T=4, drop_path_rate=0.,
        glca_drop_path_rate=0., img_size=(64, 64),
        train=[('Resize', (72, 72)), ('RandomCrop', (64, 64))],
        test=[('Resize', (72, 72)), ('CenterCrop', (64, 64))]),
    'demo_reid': dict(
        FAMILIES['person'], arch=_DEMO_ARCH, in_channels=96, depth=4, num_classes=40, T=4, drop_path_rate=0.,
        glca_drop_path_rate=0., img_size=(64, 32),
        train=[('Resize', (64, 32)), ('RandomCrop', (64, 32))],
        test=[('Resize', (64, 32))]),
}
# The paper's regime on the demo sets: the demo models fine-tuned from pretrained/demo_vit.pth with the paper's
# structure: stochastic depth 0.1 (GLCA too); the rest as the demos.
_FINETUNE = dict(drop_path_rate=0.1, glca_drop_path_rate=0.1)
DEMOS.update({
    'demo_fgvc_finetune': dict(DEMOS['demo_fgvc'], **_FINETUNE),
    'demo_fgvc_finetune_pairs': dict(DEMOS['demo_fgvc'], **_FINETUNE),
    'demo_reid_finetune': dict(DEMOS['demo_reid'], **_FINETUNE),
})
BASELINES.update({f'{name}_baseline': name for name in ('demo_fgvc_finetune', 'demo_reid_finetune')})
# The paper's Table 4 partner policies: a paper config with another partner_policy, on batches where every image has
# both kinds of partner (PairSampler for CUB; the Re-ID P x K batches already do).
TABLE4 = {f'{base}_pwca-{policy}': (base, policy)
          for base in ('deit-t_cub', 'vit-b_msmt17') for policy in ('intra', 'inter', 'mixed')}
# The demos' backbone pretrained as a plain classifier (tools/misc/make_pretrained_demo.py).
PRETRAIN = {'demo_pretrain': dict(arch=_DEMO_ARCH, img_size=(64, 64), num_classes=128)}


@lru_cache(maxsize=None)
def load(name):
    return Config.fromfile(osp.join(DCAL_DIR, f'{name}.py'))


def _default(type_name, arg):
    return inspect.signature(MODELS.get(type_name).__init__).parameters[arg].default


def _get(cfg, arg):
    """``cfg[arg]``, or the default of the class ``cfg.type`` when the config leaves it out."""
    return cfg[arg] if arg in cfg else _default(cfg['type'], arg)


def _size(size, order):
    """An int or a 2-sequence in ``order`` ('hw' or 'wh') as (h, w)."""
    if isinstance(size, int):
        return (size, size)
    size = tuple(size)
    assert len(size) == 2, size
    return size if order == 'hw' else size[::-1]


# transforms that leave the image size alone
_SIZE_KEEPING = {'LoadImageFromFile', 'RandomFlip', 'RandomErasing', 'PackInputs', 'NumpyToPIL', 'PILToNumpy'}


def pipeline_sizes(pipeline):
    """(type, (h, w)) after each size-changing transform of a pipeline, read from its config.

    mmcv's ``Resize`` takes ``scale=(w, h)``, mmpretrain's ``RandomCrop`` ``crop_size=(h, w)`` and mmcv's
    ``CenterCrop`` ``crop_size=(w, h)`` (``test_pipeline_sizes_match_the_transforms`` runs real pipelines to hold
    this reading to the libraries).
    """
    sizes = []
    for t in pipeline:
        kind = t['type']
        if kind == 'Resize':
            assert not t.get('keep_ratio', False) and 'scale_factor' not in t, \
                f'teach pipeline_sizes in {THIS} this Resize: {t}'
            sizes.append((kind, _size(t['scale'], 'wh')))
        elif kind == 'RandomCrop':
            sizes.append((kind, _size(t['crop_size'], 'hw')))
        elif kind == 'CenterCrop':
            sizes.append((kind, _size(t['crop_size'], 'wh')))
        elif kind == 'RandomResizedCrop':  # mmpretrain's: scale=(w, h) of the output
            sizes.append((kind, _size(t['scale'], 'wh')))
        elif kind not in _SIZE_KEEPING:
            raise AssertionError(f'transform {kind} is unknown to pipeline_sizes in {THIS}: add what it does to '
                                 'the image size')
    return sizes


def recipe(cfg):
    """The values the issue pins, as the built model and data pipelines would see them."""
    model = cfg.model
    backbone, head = model.backbone, model.head
    glca, pwca = model.get('glca'), model.get('pwca')
    arch = backbone['arch']
    arch = arch.to_dict() if hasattr(arch, 'to_dict') else arch
    depth = arch['num_layers'] if isinstance(arch, dict) else {a: d for a, _, d in ARCHS.values()}.get(arch)
    drop_path_rate = _get(backbone, 'drop_path_rate')
    predict_mode = _get(head, 'predict_mode')
    if predict_mode is None and head['type'] == 'DCALReIDHead':  # the Re-ID head resolves None itself
        predict_mode = 'concat' if _get(head, 'with_glca') else 'sa'
    triplet = _get(head, 'loss_triplet') if head['type'] == 'DCALReIDHead' else None
    out = dict(
        arch=arch,
        depth=depth,
        in_channels=head['in_channels'],
        num_classes=head['num_classes'],
        T=None if pwca is None else (_get(pwca, 'num_blocks') or depth),
        partner_policy=None if pwca is None else _get(pwca, 'partner_policy'),
        R=None if glca is None else _get(glca, 'top_ratio'),
        selection=None if glca is None else _get(glca, 'selection'),
        # DCAL gives GLCA the backbone's rate unless the GLCA config sets one
        glca_drop_path_rate=None if glca is None else glca.get('drop_path_rate', drop_path_rate),
        head=head['type'],
        with_glca=_get(head, 'with_glca'),
        with_pwca=_get(head, 'with_pwca'),
        predict_mode=predict_mode,
        neck_feat=_get(head, 'neck_feat') if head['type'] == 'DCALReIDHead' else None,
        loss=_get(head, 'loss')['type'],
        triplet=None if triplet is None else (triplet['type'], triplet.get('margin')),
        loss_weighting=_get(head, 'loss_weighting'),
        drop_path_rate=drop_path_rate,
        drop_path_mode=_get(backbone, 'drop_path_mode'),
        img_size=_size(_get(backbone, 'img_size'), 'hw'),
    )
    # the pipelines the dataloaders really use (not the module-level *_pipeline variables)
    out['train'] = pipeline_sizes(cfg.train_dataloader.dataset.pipeline)
    for loader in ('val_dataloader', 'test_dataloader'):
        out[loader] = pipeline_sizes(cfg[loader].dataset.pipeline)
    return out


def _expected_paper(name):
    arch, ds = PAPER_CONFIGS[name]
    family, num_classes = DATASETS[ds]
    want = dict(FAMILIES[family])
    want['arch'], want['in_channels'], want['depth'] = ARCHS[arch]
    want['num_classes'] = num_classes
    return family, want


def _mismatches(got, want):
    test = want.get('test')
    want = {k: v for k, v in want.items() if k != 'test'}
    want['val_dataloader'] = want['test_dataloader'] = test
    return {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}


def _report(name, what, bad):
    return f'configs/dcal/{name}.py deviates from {what}:\n' + '\n'.join(
        f'  {k}: config gives {g!r}, {what} has {w!r}' for k, (g, w) in sorted(bad.items()))


def _check_paper(name):
    family, want = _expected_paper(name)
    got = recipe(load(name))
    bad = _mismatches(got, want)
    assert not bad, _report(name, f"the paper's {family} recipe", bad)
    # the input size the backbone is built for is what the pipelines feed it
    assert got['train'][-1][1] == got['test_dataloader'][-1][1] == got['img_size']


def _flat(d, prefix=''):
    """A config dict as {'a.b[0].c': value}."""
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in _flat(val, f'{prefix}.{key}' if prefix else key).items()}
    if isinstance(d, (list, tuple)) and any(isinstance(x, dict) for x in d):
        return {k: v for i, val in enumerate(d) for k, v in _flat(val, f'{prefix}[{i}]').items()}
    return {prefix: d}


# The keys a baseline may differ in from its DCAL twin: the GLCA / PWCA branches and the head's use of them.
_DCAL_ONLY = ('model.glca', 'model.pwca', 'model.head.with_glca', 'model.head.with_pwca', 'model.head.predict_mode',
              'model.head.loss_weighting')


def _check_baseline(name):
    twin = BASELINES[name]
    base, dcal = recipe(load(name)), recipe(load(twin))
    assert load(name).model.get('glca') is None and load(name).model.get('pwca') is None, \
        f'{name}: a baseline has no GLCA and no PWCA'
    assert (base['T'], base['R'], base['with_glca'], base['with_pwca'], base['predict_mode']) == \
        (None, None, False, False, 'sa'), f'{name}: the baseline must be SA only, got {base}'
    same = ('arch', 'in_channels', 'num_classes', 'img_size', 'drop_path_rate', 'drop_path_mode', 'train',
            'val_dataloader', 'test_dataloader', 'head', 'neck_feat', 'loss', 'triplet')
    bad = {k: (base[k], dcal[k]) for k in same if base[k] != dcal[k]}
    assert not bad, _report(name, f'its DCAL twin {twin}.py', bad)
    # and nothing else differs either (data, schedule, runtime, pretrained weights)
    a, b = _flat(load(name).to_dict()), _flat(load(twin).to_dict())
    other = {k: (a.get(k, '<absent>'), b.get(k, '<absent>')) for k in set(a) | set(b)
             if not k.startswith(_DCAL_ONLY) and a.get(k, '<absent>') != b.get(k, '<absent>')}
    assert not other, _report(name, f'its DCAL twin {twin}.py outside the GLCA/PWCA keys', other)


def _check_demo(name):
    bad = _mismatches(recipe(load(name)), DEMOS[name])
    assert not bad, _report(name, f'the documented demo values in the DEMOS table of {THIS}', bad)


def _check_table4(name):
    base, policy = TABLE4[name]
    got, want = recipe(load(name)), recipe(load(base))
    assert got['partner_policy'] == policy, f'{name}: partner_policy {got["partner_policy"]!r}, expected {policy!r}'
    want['partner_policy'] = policy
    bad = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not bad, _report(name, f'{base}.py with partner_policy={policy!r}', bad)
    sampler, batch = load(name).train_dataloader.sampler, load(name).train_dataloader.batch_size
    # every image of a batch has a same-label and an other-label image: >= 2 labels x >= 2 images
    num_labels = sampler.get('num_classes', sampler.get('num_ids'))
    assert sampler.type in ('PairSampler', 'PKSampler') and num_labels >= 2 and sampler.num_instances >= 2
    assert num_labels * sampler.num_instances == batch
    assert load(name).train_dataloader.batch_sampler.type == 'PKBatchSampler'


def _check_pretrain(name):
    cfg, want = load(name), PRETRAIN[name]
    assert cfg.model.get('glca') is None and cfg.model.get('pwca') is None, f'{name}: a plain classifier'
    got = recipe(cfg)
    assert (got['arch'], got['img_size'], got['num_classes']) == (want['arch'], want['img_size'],
                                                                  want['num_classes'])
    # the backbone the fine-tuning configs load: the same architecture and input as theirs
    assert all(recipe(load(d))['arch'] == got['arch'] for d in ('demo_fgvc_finetune', 'demo_reid_finetune'))


@pytest.mark.parametrize('name', CONFIGS)
def test_dcal_config_holds_its_recipe(name):
    if name in PAPER_CONFIGS:
        _check_paper(name)
    elif name in BASELINES:
        _check_baseline(name)
    elif name in DEMOS:
        _check_demo(name)
    elif name in TABLE4:
        _check_table4(name)
    elif name in PRETRAIN:
        _check_pretrain(name)
    else:
        pytest.fail(f'configs/dcal/{name}.py is in no table of {THIS}: add it to the table (PAPER_CONFIGS with '
                    'its backbone and dataset, BASELINES, DEMOS with the values its header documents, TABLE4 or '
                    'PRETRAIN)')


def test_every_table_row_has_its_config():
    # 15 FGVC + 16 Re-ID settings; 2 from-scratch demos and 3 fine-tuning demos with 2 baselines; 6 Table 4 configs
    assert (len(PAPER_CONFIGS), len(BASELINES), len(DEMOS), len(TABLE4), len(PRETRAIN)) == (31, 33, 5, 6, 1)
    missing = sorted((set(PAPER_CONFIGS) | set(BASELINES) | set(DEMOS) | set(TABLE4) | set(PRETRAIN)) - set(CONFIGS))
    assert not missing, f'configs named in the tables of {THIS} but not in configs/dcal/: {missing}'


@pytest.mark.parametrize('name', ['deit-t_cub', 'deit-t_market1501', 'deit-t_veri776', 'demo_fgvc', 'demo_reid'])
def test_pipeline_sizes_match_the_transforms(name):
    """The (w, h) / (h, w) reading of ``pipeline_sizes`` against the transforms themselves: run the dataloaders'
    pipelines (without loading a file) on an image of another size and shape."""
    cfg = load(name)
    for loader in ('train_dataloader', 'test_dataloader'):
        pipeline = [TRANSFORMS.build(t) for t in cfg[loader].dataset.pipeline if t['type'] != 'LoadImageFromFile']
        img = np.random.default_rng(0).integers(0, 256, (300, 170, 3), dtype=np.uint8)
        results = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2], cam_id=0, is_query=False)
        for t in pipeline:
            results = t(results)
        assert tuple(results['inputs'].shape[-2:]) == pipeline_sizes(cfg[loader].dataset.pipeline)[-1][1]


def test_recipe_reads_defaults_where_a_config_is_silent():
    """``pwca=dict(type='PWCA')`` is T = all blocks because PWCA's default is None; a head without
    ``neck_feat`` reads the head's default; a config that sets a value is read as set."""
    cfg = load('deit-t_market1501')
    assert 'num_blocks' not in cfg.model.pwca and _default('PWCA', 'num_blocks') is None
    assert recipe(cfg)['T'] == 12
    cfg = Config(cfg.to_dict())
    cfg.model.pwca.num_blocks = 3
    del cfg.model.head['neck_feat']
    got = recipe(cfg)
    assert got['T'] == 3 and got['neck_feat'] == _default('DCALReIDHead', 'neck_feat')
