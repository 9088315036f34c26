# Copyright (c) OpenMMLab. All rights reserved.
"""Progress helpers: MMEngine bars on the current stdout, run k/n lines with
elapsed/ETA, and the progress of the data generators."""
import re

from dcal_mm.utils.progress import Progress, RunCounter, Stage, format_seconds


def test_progress_bar_counts_to_the_total(capsys):
    bar = Progress(4, desc='four things')
    for _ in range(4):
        bar.update()
    out = capsys.readouterr().out
    assert out.startswith('four things\n') and '4/4' in out and out.endswith('\n')
    Progress(4, enabled=False).update()
    assert capsys.readouterr().out == ''


def test_run_counter_elapsed_and_eta(capsys):
    now = [0.]
    counter = RunCounter(4, timer=lambda: now[0])
    now[0] = 60.
    line = counter.finished('fgvc dcal seed 0')
    assert line == 'run 1/4 done (fgvc dcal seed 0): elapsed 1m00s, ETA 3m00s'
    now[0] = 100.
    assert counter.finished('b').endswith('elapsed 1m40s, ETA 1m40s')
    assert capsys.readouterr().out.count('run ') == 2


def test_stage_and_format(capsys):
    now = [0.]

    def timer():
        return now[0]

    with Stage('exporting x.onnx', timer=timer):
        now[0] = 5.
    assert capsys.readouterr().out == 'exporting x.onnx ...\nexporting x.onnx: done in 5s\n'
    assert format_seconds(3725) == '1h02m'


def test_data_generators_show_progress(tmp_path, capsys):
    from dcal_mm.datasets import make_demo_cub, make_demo_market1501
    make_demo_cub(str(tmp_path / 'a'), num_classes=2, train_per_class=1, test_per_class=1, progress=True)
    out = capsys.readouterr().out
    assert re.search(r'4/4, .*elapsed', out), out
    make_demo_cub(str(tmp_path / 'b'), num_classes=2, train_per_class=1, test_per_class=1)
    assert capsys.readouterr().out == ''  # off by default in the library
    make_demo_market1501(str(tmp_path / 'c'), num_train_ids=2, num_test_ids=2, num_distractors=1, num_junk=1,
                         progress=True)
    assert '6/6' in capsys.readouterr().out
