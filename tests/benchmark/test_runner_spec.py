"""Sweep spec loading and expansion: grid x seeds, globs, variables, and errors that name file and field."""
import pytest
from runner_helpers import SMOKE_CONFIG, write_spec

from ovd.benchmark.spec import SpecError, load_spec

SPEC = """
name: grid
vars: {data_root: /data}
defaults:
  seeds: [0, 1]
  retries: 2
  resources: {tasks: 1, time: '01:00:00'}
  cfg_options: {train_cfg.max_epochs: 1}
  env: {OVD_DATA_ROOT: '${data_root}'}
experiments:
  - name: smoke
    method: smoke
    train: @SMOKE@
    grid: {optim_wrapper.optimizer.lr: [0.01, 0.02], train_dataloader.batch_size: [2, 4, 8]}
    evaluate: [{protocol: coco}]
  - name: dist
    method: smoke
    train: @SMOKE@
    seeds: [7]
    resources: {tasks: 2}
    evaluate: [{protocol: coco, name: val}, {protocol: objects365, name: o365, reference: ref-a}]
"""


def test_expansion_is_the_cartesian_product(tmp_path):
    sweep = load_spec(str(write_spec(tmp_path / 's.yaml', SPEC)), root=str(tmp_path / 'root'))
    ids = [e.id for e in sweep.entries]
    assert len(ids) == 2 * 3 * 2 + 1 == len(set(ids))
    assert 'smoke-lr=0.02-batch_size=8-s1' in ids
    e = next(e for e in sweep.entries if e.id == 'smoke-lr=0.02-batch_size=8-s1')
    assert e.cfg_options == {'train_cfg.max_epochs': 1, 'optim_wrapper.optimizer.lr': 0.02,
                             'train_dataloader.batch_size': 8}
    assert e.env == {'OVD_DATA_ROOT': '/data'} and e.retries == 2 and e.resources.time == '01:00:00'
    dist = next(e for e in sweep.entries if e.experiment == 'dist')
    assert dist.id == 'dist-s7' and dist.resources.tasks == 2 and dist.resources.time == '01:00:00'
    assert [(ev.name, ev.protocol, ev.reference) for ev in dist.evals] == [('val', 'coco', None),
                                                                          ('o365', 'objects365', 'ref-a')]


def test_variables_override_and_hash_tracks_results_not_resources(tmp_path):
    path = str(write_spec(tmp_path / 's.yaml', SPEC))
    a = load_spec(path, root=str(tmp_path))
    b = load_spec(path, {'data_root': '/elsewhere'}, root=str(tmp_path))
    assert b.entries[0].env == {'OVD_DATA_ROOT': '/elsewhere'}
    assert a.entries[0].hash != b.entries[0].hash
    c = load_spec(str(write_spec(tmp_path / 't.yaml', SPEC.replace("'01:00:00'", "'02:00:00'"))),
                  root=str(tmp_path))
    assert a.entries[0].hash == c.entries[0].hash  # a longer time limit does not change results


def test_glob_and_optional_experiments(tmp_path):
    spec = write_spec(tmp_path / 's.yaml', """
    name: g
    experiments:
      - method: smoke
        train: configs/smoke/*tiny*.py
        evaluate: [{protocol: coco}]
      - method: nothing
        train: configs/no_such_method/*tiny*.py
        optional: true
        evaluate: [{protocol: coco}]
    """)
    sweep = load_spec(str(spec), root=str(tmp_path))
    assert [e.train_config for e in sweep.entries] == [SMOKE_CONFIG]
    assert sweep.notes == ['nothing: skipped, no config matches configs/no_such_method/*tiny*.py']


@pytest.mark.parametrize('body, message', [
    ('name: x\nexperiments: []\n', 'experiments: expected a non-empty list'),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, evaluate: [{protocol: lvis-std}]}\n',
     "experiments[0].evaluate[0].protocol: unknown protocol 'lvis-std'"),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, seeds: [0, a], evaluate: [{protocol: coco}]}\n',
     "experiments[0].seeds[1]: expected an integer seed, got 'a'"),
    ('name: x\nexperiments:\n  - {method: m, train: nope.py, evaluate: [{protocol: coco}]}\n',
     "experiments[0].train: no config file matches 'nope.py'"),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, checkpoint: a.pth, evaluate: [{protocol: coco}]}\n',
     'give exactly one of `train`'),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, resources: {tasks: 3, nodes: 2}, '
     'evaluate: [{protocol: coco}]}\n', 'tasks (3) must be a multiple of nodes (2)'),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, colour: red, evaluate: [{protocol: coco}]}\n',
     "experiments[0]: unknown key(s) ['colour']"),
    ('name: x\nexperiments:\n  - {method: m, train: "${nope}", evaluate: [{protocol: coco}]}\n',
     'unknown variable ${nope}'),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, evaluate: [{protocol: coco}]}\n'
     '  - {method: m, train: @SMOKE@, evaluate: [{protocol: coco}]}\n', "two entries get the id 'm-s0'"),
    # the schema: every key is checked where it is written, and the message names its path
    ('name: x\nexperiments:\n  - {train: @SMOKE@, evaluate: [{protocol: coco}]}\n',
     "experiments[0]: missing key(s) ['method']"),
    ('name: x\ndefaults: {retries: x}\nexperiments:\n  - {method: m, train: @SMOKE@, evaluate: [{protocol: coco}]}\n',
     "defaults.retries: expected an integer >= 0, got 'x'"),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, resources: {sbatch_args: [--x, 1]}, '
     'evaluate: [{protocol: coco}]}\n', 'experiments[0].resources.sbatch_args[1]: expected a string, got int 1'),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, resources: {gpus: 1}, evaluate: [{protocol: coco}]}\n',
     "experiments[0].resources: unknown key(s) ['gpus']"),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, evaluate: [{protocol: coco, reference: [a]}]}\n',
     "experiments[0].evaluate[0].reference: expected a string, got list ['a']"),
    ('name: x\nexperiments:\n  - {method: m, train: @SMOKE@, optional: maybe, evaluate: [{protocol: coco}]}\n',
     "experiments[0].optional: expected true or false, got str 'maybe'"),
    ('name: x\nexperiments: [7]\n', 'experiments[0]: expected a mapping, got int 7'),
])
def test_errors_name_file_and_field(tmp_path, body, message):
    path = write_spec(tmp_path / 'bad.yaml', body)
    with pytest.raises(SpecError) as err:
        load_spec(str(path), root=str(tmp_path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_variables_are_replaced_before_the_values_are_checked(tmp_path):
    spec = write_spec(tmp_path / 's.yaml', """
    name: '${n}'
    vars: {n: v, t: '02:00:00', mem: 16000}
    defaults: {resources: {time: '${t}', mem: '${mem}'}}
    experiments: [{method: smoke, train: @SMOKE@, evaluate: [{protocol: coco}]}]
    """)
    sweep = load_spec(str(spec), {'t': '03:00:00'}, root=str(tmp_path))
    assert sweep.name == 'v' and sweep.entries[0].resources.time == '03:00:00'
    assert sweep.entries[0].resources.mem == '16000'


def test_repository_specs_load(repo_root):
    for name in ('demo.yaml', 'paper_tables.yaml'):
        sweep = load_spec(str(repo_root / 'benchmarks' / 'sweeps' / name), root='/tmp/unused')
        assert sweep.entries or sweep.notes


def test_demo_spec_plans_every_method_tiny_config(repo_root):
    sweep = load_spec(str(repo_root / 'benchmarks' / 'sweeps' / 'demo.yaml'), root='/tmp/unused')
    configs = {e.experiment: e.train_config for e in sweep.entries}
    assert set(configs) == {'smoke-faster-rcnn', 'glip-tiny', 'mdetr-tiny', 'vild-tiny', 'baron-tiny'}, sweep.notes
    for name, config in configs.items():
        assert (repo_root / config).is_file() and ('tiny' in config or name.startswith('smoke')), config


def test_multi_dataset_evaluator_protocol_and_metric_names():
    from ovd.evaluation.metric_names import normalize_metrics, protocol_of_evaluator
    evaluator = {'type': 'MultiDatasetsEvaluator', 'dataset_prefixes': ['lvis', 'flickr30k'],
                 'metrics': [{'type': 'OVDetectionMetric', 'protocol': 'lvis'},
                             {'type': 'Flickr30kRecallMetric', 'protocol': 'any-box'}]}
    assert protocol_of_evaluator(evaluator) == 'lvis'
    raw = {'lvis/lvis/bbox_AP': 0.25, 'lvis/lvis/bbox_APr': 0.125, 'flickr30k/flickr30k-any-box/R@1': 0.5}
    assert normalize_metrics(raw, 'lvis') == {'AP': 25.0, 'APr': 12.5}
    assert normalize_metrics(raw, 'flickr30k-any-box') == {'R@1': 50.0}
