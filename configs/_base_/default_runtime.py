# defaults to use registries in mmpretrain; dcal_mm registers into them
default_scope = 'mmpretrain'
custom_imports = dict(imports=['dcal_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # MMEngine's CheckpointHook, but old checkpoints are deleted only once the new one is written (atomically)
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # dcal_mm: generator states in checkpoints for exact --resume; refuse checkpoints that do not fit the model;
    # stop when head.num_classes differs from the training set. In default_hooks (merged by name), not custom_hooks
    # (a list, replaced by configs that set their own).
    random_state=dict(type='RandomStateHook'),
    checkpoint_check=dict(type='CheckpointCheckHook'),
    num_classes_check=dict(type='NumClassesCheckHook'),
    # stop at the first NaN / inf loss, gradient norm or prediction; one training per work dir at a time; no
    # top-level config key that nothing reads (misspelled)
    non_finite_check=dict(type='NonFiniteCheckHook'),
    work_dir_lock=dict(type='WorkDirLockHook'),
    config_keys_check=dict(type='ConfigKeysCheckHook'),
    # lowers logger.interval after the first iterations so that a log line appears at least every 30 s
    log_interval=dict(type='AdaptiveLogIntervalHook', max_seconds=30),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
# True: load_from / tools/test.py load a checkpoint that fits the model only in part (logged); else that is an error
allow_partial_load = False
resume = False
randomness = dict(seed=0, deterministic=False)
