"""Environment report and health checks behind ``ovd env``.

Each check returns ``(name, ok, detail)``; they look for the failures users actually hit with the OpenMMLab
stack on a modern torch: mmcv without compiled ops, resume failing under weights_only, lvis-api on numpy 2,
transformers too new for mmdet's GLIP fusion layers, and plugins that did not register.
"""
import importlib
import io
import platform
import warnings

from typing import Dict, List, Tuple

Check = Tuple[str, bool, str]

PACKAGES = ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmdet', 'transformers', 'open_clip', 'numpy',
            'pycocotools', 'lvis', 'faster_coco_eval', 'mim')
# import name -> distribution name, where they differ (the version comes from the installed metadata: several of
# these modules have no __version__)
DISTRIBUTIONS = {'open_clip': 'open_clip_torch', 'faster_coco_eval': 'faster-coco-eval', 'mim': 'openmim'}
MAX_TRANSFORMERS = (4, 53, 3)  # mmdet 3.3's vlfuse_helper.BertEncoderLayer breaks from 4.54 on


def package_versions() -> Dict[str, str]:
    """Installed version of each package ovd depends on (``'missing'`` when absent)."""
    from importlib import metadata
    versions = {'python': platform.python_version(), 'platform': platform.platform()}
    for name in PACKAGES:
        try:
            with warnings.catch_warnings():  # openmim imports the deprecated pkg_resources
                warnings.simplefilter('ignore')
                module = importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - a broken install is what we report
            versions[name] = f'missing ({type(err).__name__}: {err})'
            continue
        try:
            versions[name] = metadata.version(DISTRIBUTIONS.get(name, name))
        except metadata.PackageNotFoundError:  # importable but not installed as a distribution (a source tree)
            versions[name] = str(getattr(module, '__version__', 'unknown (no package metadata)'))
    from ovd.version import __version__
    versions['ovd'] = __version__
    return versions


def check_mmcv_ops() -> Check:
    try:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version, nms  # noqa: F401
        return 'mmcv ops compiled', True, f'compiler {get_compiler_version()}, CUDA {get_compiling_cuda_version()}'
    except Exception as err:  # noqa: BLE001
        return 'mmcv ops compiled', False, f'{type(err).__name__}: {err} (run `make setup`)'


def check_cuda() -> Check:
    """CUDA devices torch can use. None is fine (training, tests and the demo run on CPU), so this check
    reports rather than fails; it fails only when devices are present but torch cannot use them."""
    import torch
    built = f'torch built for CUDA {torch.version.cuda}' if torch.version.cuda else 'CPU-only torch build'
    if not torch.cuda.is_available():
        return 'CUDA devices', True, f'none visible: runs on CPU ({built})'
    try:
        names = ', '.join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception as err:  # noqa: BLE001 - a driver/runtime mismatch is what we report
        return 'CUDA devices', False, f'{type(err).__name__}: {err} ({built})'
    return 'CUDA devices', True, f'{torch.cuda.device_count()}: {names} ({built})'


def check_weights_only_resume() -> Check:
    """Round-trip a message-hub-like payload through ``torch.load(weights_only=True)``."""
    import numpy as np
    import torch
    from mmengine.logging import HistoryBuffer
    import ovd.setup  # noqa: F401  (applies the compatibility fixes)
    buffer = HistoryBuffer()
    buffer.update(np.float64(1.5))
    payload = {'message_hub': {'log_scalars': {'train/loss': buffer}}, 'meta': {'seed': np.int64(3)}}
    stream = io.BytesIO()
    torch.save(payload, stream)
    stream.seek(0)
    try:
        loaded = torch.load(stream, weights_only=True)
    except Exception as err:  # noqa: BLE001
        return 'weights_only resume fix', False, f'{type(err).__name__}: {err}'
    ok = loaded['message_hub']['log_scalars']['train/loss'].current() == 1.5
    return 'weights_only resume fix', ok, 'mmengine checkpoint types allow-listed; weights_only stays on'


def check_lvis_numpy() -> Check:
    import numpy as np
    import ovd.setup  # noqa: F401  (applies the compatibility fixes)
    try:
        import lvis.eval
        ok = lvis.eval.np.float is float and not hasattr(np, 'float')
        return 'lvis-api on numpy', ok, f'numpy {np.__version__}; lvis.eval sees the removed aliases'
    except Exception as err:  # noqa: BLE001
        return 'lvis-api on numpy', False, f'{type(err).__name__}: {err}'


def check_transformers() -> Check:
    import transformers
    version = tuple(int(part) for part in transformers.__version__.split('.')[:3] if part.isdigit())
    ok = version <= MAX_TRANSFORMERS
    detail = transformers.__version__ + ('' if ok else ' (> 4.53.3 breaks mmdet GLIP fusion layers)')
    return 'transformers <= 4.53.3', ok, detail


# one module per registry that configs name and that must build after ``import ovd``
REGISTERED = {'DATASETS': 'OVLVISDataset', 'TRANSFORMS': 'LoadRegionEmbeddings', 'MODELS': 'ViLD',
              'METRICS': 'OVDetectionMetric', 'HOOKS': 'PreemptionCheckpointHook'}


def check_registries() -> Check:
    """Every registry has ovd's modules, and the names configs use resolve in scope ``ovd``."""
    from ovd import registry
    registry.import_all_modules()
    missing = [f'{name.lower()}: {module}' for name, module in REGISTERED.items()
               if getattr(registry, name).get(module) is None]
    counts = {name: len(getattr(registry, name).module_dict) for name in REGISTERED}
    detail = ', '.join(f'{name.lower()} {count}' for name, count in counts.items())
    if missing:
        return "registries (scope 'ovd')", False, f'{detail}; not found: {", ".join(missing)}'
    return "registries (scope 'ovd')", True, detail


CHECKS = (check_mmcv_ops, check_cuda, check_weights_only_resume, check_lvis_numpy, check_transformers,
          check_registries)


def run_checks() -> List[Check]:
    """Run every check; a check that raises is reported as failed rather than aborting the report."""
    results = []
    for check in CHECKS:
        try:
            name, ok, detail = check()
            results.append((name, bool(ok), detail))
        except Exception as err:  # noqa: BLE001
            results.append((check.__name__, False, f'{type(err).__name__}: {err}'))
    return results


