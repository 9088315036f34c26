# Copyright (c) OpenMMLab. All rights reserved.
import pytest

TOOL = 'tools/analysis_tools/demo_ablation.py'

# the lines MMEngine's LoggerHook writes for a validation (training lines carry the loss, not the metric)
LOG = '''12/03 16:16:57 - mmengine - INFO - Epoch(train)  [5][38/38]  lr: 1.0e-03  loss: 2.3  sa_ce: 2.3
12/03 16:16:57 - mmengine - INFO - Epoch(val) [5][5/5]    accuracy/top1: 12.0000  data_time: 0.0172  time: 0.0815
12/03 16:17:30 - mmengine - INFO - Epoch(val) [10][5/5]    accuracy/top1: 43.3333  data_time: 0.0172  time: 0.0815
12/03 16:18:01 - mmengine - INFO - Epoch(val) [15][5/5]    accuracy/top1: 81.3333  data_time: 0.0170  time: 0.0855
'''


def test_final_metric_and_learning_curve_from_a_training_log(load_tool):
    tool = load_tool(TOOL)
    assert tool.final_metrics(LOG, ['accuracy/top1']) == {'accuracy/top1': 81.3333}
    assert tool.learning_curve(LOG, 'accuracy/top1') == {5: 12.0, 10: 43.3333, 15: 81.3333}
    with pytest.raises(RuntimeError, match='reid/mAP not found'):
        tool.final_metrics(LOG, ['reid/mAP'])


def test_curves_average_over_seeds(load_tool, capsys):
    tool = load_tool(TOOL)
    runs = [dict(demo='fgvc', variant='dcal', seed=s, curve={5: 10. + s, 10: 50. + 10 * s}) for s in (0, 1)]
    tool.print_curves(runs, ['fgvc'], ['dcal'])
    assert '| dcal | 10.5 | 55.0 |' in capsys.readouterr().out
