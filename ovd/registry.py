"""ovd's registries: children of mmdet's, with scope ``ovd`` (the pattern mmyolo and mmrotate follow).

Configs set ``default_scope = 'ovd'``; a ``type`` not registered here is looked up in the parent (mmdet,
then mmengine), so mmdet's detectors, backbones and transforms work unprefixed.

Registration is lazy, as in mmdet 3.x: each registry names in ``locations`` the modules that register into
it, and mmengine imports them on the registry's first lookup. Importing this module imports mmdet's
registries (names only) and nothing of ovd's layers. mmengine imports only the ``locations`` of the registry
it is asked, not those of its parents, so :class:`OvdRegistry` imports its ancestors' too: a lookup that
falls back to mmdet finds mmdet's modules (``DetLocalVisualizer``, ``CocoMetric``, ...) registered without
registering all of mmdet up front.
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
from mmengine.registry import Registry

SCOPE = 'ovd'

# The modules that register into each registry (tests/foundation/test_import_side_effects.py checks that every
# module with a ``register_module`` call is listed). ``ovd.models`` imports every method's package.
DATA_MODULES = ['ovd.data.datasets']
TRANSFORM_MODULES = ['ovd.data.transforms', 'ovd.data.grounding_crop', 'ovd.data.pixel_conventions',
                     'ovd.data.region_transforms']
MODEL_MODULES = ['ovd.models']
METRIC_MODULES = ['ovd.evaluation.metrics']
HOOK_MODULES = ['ovd.benchmark.hooks', 'ovd.models.common.vocabulary_hook']


class OvdRegistry(Registry):
    """A registry whose first lookup imports its own ``locations`` and then its ancestors'."""

    def import_from_location(self) -> None:
        registry = self
        while registry is not None:
            Registry.import_from_location(registry)
            registry = registry.parent


RUNNERS = OvdRegistry('runner', parent=MMDET_RUNNERS, scope=SCOPE)
LOOPS = OvdRegistry('loop', parent=MMDET_LOOPS, scope=SCOPE)
HOOKS = OvdRegistry('hook', parent=MMDET_HOOKS, scope=SCOPE, locations=HOOK_MODULES)

DATASETS = OvdRegistry('dataset', parent=MMDET_DATASETS, scope=SCOPE, locations=DATA_MODULES)
DATA_SAMPLERS = OvdRegistry('data sampler', parent=MMDET_DATA_SAMPLERS, scope=SCOPE, locations=DATA_MODULES)
TRANSFORMS = OvdRegistry('transform', parent=MMDET_TRANSFORMS, scope=SCOPE, locations=TRANSFORM_MODULES)

MODELS = OvdRegistry('model', parent=MMDET_MODELS, scope=SCOPE, locations=MODEL_MODULES)
MODEL_WRAPPERS = OvdRegistry('model_wrapper', parent=MMDET_MODEL_WRAPPERS, scope=SCOPE)
TASK_UTILS = OvdRegistry('task util', parent=MMDET_TASK_UTILS, scope=SCOPE, locations=MODEL_MODULES)

OPTIMIZERS = OvdRegistry('optimizer', parent=MMDET_OPTIMIZERS, scope=SCOPE, locations=MODEL_MODULES)
OPTIM_WRAPPERS = OvdRegistry('optim_wrapper', parent=MMDET_OPTIM_WRAPPERS, scope=SCOPE, locations=MODEL_MODULES)
OPTIM_WRAPPER_CONSTRUCTORS = OvdRegistry(
    'optimizer wrapper constructor', parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE,
    locations=MODEL_MODULES)
PARAM_SCHEDULERS = OvdRegistry('parameter scheduler', parent=MMDET_PARAM_SCHEDULERS, scope=SCOPE,
                               locations=MODEL_MODULES)

METRICS = OvdRegistry('metric', parent=MMDET_METRICS, scope=SCOPE, locations=METRIC_MODULES)
EVALUATOR = OvdRegistry('evaluator', parent=MMDET_EVALUATOR, scope=SCOPE, locations=METRIC_MODULES)

VISUALIZERS = OvdRegistry('visualizer', parent=MMDET_VISUALIZERS, scope=SCOPE)
VISBACKENDS = OvdRegistry('vis_backend', parent=MMDET_VISBACKENDS, scope=SCOPE)

ALL_REGISTRIES = (RUNNERS, LOOPS, HOOKS, DATASETS, DATA_SAMPLERS, TRANSFORMS, MODELS, MODEL_WRAPPERS, TASK_UTILS,
                  OPTIMIZERS, OPTIM_WRAPPERS, OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS, METRICS, EVALUATOR,
                  VISUALIZERS, VISBACKENDS)


def import_all_modules() -> None:
    """Register every ovd and mmdet module now (what a lookup does lazily), e.g. to list or count them."""
    for registry in ALL_REGISTRIES:
        registry.import_from_location()
