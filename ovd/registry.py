"""ovd's registries: children of mmdet's, with scope ``ovd`` (the pattern mmyolo and mmrotate follow).

Configs set ``default_scope = 'ovd'``; a ``type`` not registered here is looked up in the parent (mmdet,
then mmengine), so mmdet's detectors, backbones and transforms work unprefixed. ``locations`` lets mmengine
import the modules that register into each registry when a config is built without ``import ovd``.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.utils import register_all_modules as register_all_mmdet_modules
from mmengine.registry import Registry

SCOPE = 'ovd'

# A lookup that misses in an ovd registry falls back to mmdet's, but the parent's lazy ``locations`` are not
# imported on the way, so mmdet's modules (DetLocalVisualizer, CocoMetric, ...) are registered up front.
register_all_mmdet_modules(init_default_scope=False)

RUNNERS = Registry('runner', parent=MMDET_RUNNERS, scope=SCOPE)
LOOPS = Registry('loop', parent=MMDET_LOOPS, scope=SCOPE)
HOOKS = Registry('hook', parent=MMDET_HOOKS, scope=SCOPE, locations=['ovd.benchmark.hooks'])

DATASETS = Registry('dataset', parent=MMDET_DATASETS, scope=SCOPE, locations=['ovd.data'])
DATA_SAMPLERS = Registry('data sampler', parent=MMDET_DATA_SAMPLERS, scope=SCOPE, locations=['ovd.data'])
TRANSFORMS = Registry('transform', parent=MMDET_TRANSFORMS, scope=SCOPE, locations=['ovd.data'])

MODELS = Registry('model', parent=MMDET_MODELS, scope=SCOPE, locations=['ovd.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMDET_MODEL_WRAPPERS, scope=SCOPE)
TASK_UTILS = Registry('task util', parent=MMDET_TASK_UTILS, scope=SCOPE, locations=['ovd.models'])

OPTIMIZERS = Registry('optimizer', parent=MMDET_OPTIMIZERS, scope=SCOPE)
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMDET_OPTIM_WRAPPERS, scope=SCOPE)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE,
    locations=['ovd.models'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMDET_PARAM_SCHEDULERS, scope=SCOPE)

METRICS = Registry('metric', parent=MMDET_METRICS, scope=SCOPE, locations=['ovd.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMDET_EVALUATOR, scope=SCOPE, locations=['ovd.evaluation'])

VISUALIZERS = Registry('visualizer', parent=MMDET_VISUALIZERS, scope=SCOPE)
VISBACKENDS = Registry('vis_backend', parent=MMDET_VISBACKENDS, scope=SCOPE)
