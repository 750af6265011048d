#!/usr/bin/env bash
# One idempotent command that sets up ovd's environment (what `make setup` runs).
#
#   bash scripts/setup_env.sh
#
# 1. creates the virtual environment ($OVD_VENV, default .venv);
# 2. installs torch + torchvision (pinned in scripts/versions.env; see the variables below for clusters);
# 3. installs mmcv with compiled ops: a cached wheel when one matches (python, torch, CPU/CUDA), else it
#    downloads the PyPI sdist and builds one with scripts/build_mmcv_wheel.sh (checksum verified, mmcv's
#    hard-coded -std=c++17 patched to c++20 when the torch headers need it), and caches the wheel outside
#    the tree;
# 4. installs ovd (editable) with its pinned OpenMMLab, HF and evaluation dependencies.
# A stamp records what was installed; a second run with nothing changed only checks the imports (seconds).
#
# Variables:
#   OVD_VENV              virtual environment folder (default: .venv)
#   OVD_PYTHON            interpreter that creates it (default: python3)
#   OVD_CACHE             cache for built mmcv wheels (default: ~/.cache/ovd)
#   OVD_TORCH_VERSION     torch version (default: TORCH_VERSION in versions.env)
#   OVD_TORCHVISION_VERSION
#   OVD_TORCH_INDEX_URL   extra index for torch wheels, e.g. https://download.pytorch.org/whl/cu121
#   FORCE_CUDA=1          build mmcv's CUDA ops (needs nvcc); TORCH_CUDA_ARCH_LIST selects the archs
#   MAX_JOBS              parallel compile jobs for mmcv (default: number of cores)
#   OVD_FORCE=1           redo every step even if the stamp matches
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# Absolute paths from here on: the mmcv build runs inside the unpacked sdist, where a relative venv (the
# default) would not resolve. A relative OVD_VENV/OVD_CACHE is taken from the directory the script was run in.
venv="$(realpath -m "${OVD_VENV:-$root/.venv}")"
cache="$(realpath -m "${OVD_CACHE:-$HOME/.cache/ovd}")"
cd "$root"
# shellcheck source=versions.env
source "$here/versions.env"

python_bin="${OVD_PYTHON:-python3}"
torch_version="${OVD_TORCH_VERSION:-$TORCH_VERSION}"
torchvision_version="${OVD_TORCHVISION_VERSION:-$TORCHVISION_VERSION}"
py="$venv/bin/python"

log() { printf '[setup] %s\n' "$*"; }
pip_install() { "$py" -m pip install --disable-pip-version-check -q "$@" 2>&1 | grep -v "^WARNING: Location" || true; return "${PIPESTATUS[0]}"; }

stamp_file="$venv/.ovd-setup-stamp"
stamp="$(cat "$here/versions.env" "$here/setup_env.sh" "$here/build_mmcv_wheel.sh" setup.cfg | sha256sum | cut -c1-16)-torch${torch_version}-cuda${FORCE_CUDA:-0}"

imports_ok() {
  "$py" - <<'EOF' >/dev/null 2>&1
import os
import warnings
warnings.simplefilter('ignore')
import mmcv, mmcv.ops, mmdet, mmengine, transformers, open_clip, ovd  # noqa: F401
from mim.utils import get_installed_path
assert os.path.isfile(os.path.join(get_installed_path('ovd'), '.mim', 'tools', 'train.py'))
EOF
}

if [[ "${OVD_FORCE:-0}" != 1 && -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]] && imports_ok; then
  log "environment in $venv is up to date (stamp $stamp)"
  exit 0
fi

start=$SECONDS
if [[ ! -x "$py" ]]; then
  log "creating $venv with $("$python_bin" --version)"
  "$python_bin" -m venv "$venv"
fi
pip_install --upgrade pip "$SETUPTOOLS_SPEC" wheel ninja

log "torch $torch_version, torchvision $torchvision_version"
torch_args=("torch==$torch_version" "torchvision==$torchvision_version")
if [[ -n "${OVD_TORCH_INDEX_URL:-}" ]]; then
  torch_args+=(--extra-index-url "$OVD_TORCH_INDEX_URL")
fi
pip_install "${torch_args[@]}"
# torch depends on an unpinned setuptools; mmcv's setup.py, mmengine and openmim still import pkg_resources.
pip_install "$SETUPTOOLS_SPEC"

mmcv_ok() {
  "$py" - "$MMCV_VERSION" <<'EOF' >/dev/null 2>&1
import sys
import mmcv
from mmcv.ops import nms  # noqa: F401  (fails unless the ops were compiled)
assert mmcv.__version__ == sys.argv[1]
EOF
}

if mmcv_ok; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  variant="$("$py" - <<'EOF'
import os, sys, torch
cuda = os.environ.get('FORCE_CUDA') == '1' or torch.cuda.is_available()
tag = f"cu{torch.version.cuda.replace('.', '')}-{os.environ.get('TORCH_CUDA_ARCH_LIST', 'native').replace(' ', '_').replace(';', '_')}" if cuda and torch.version.cuda else 'cpu'
print(f"py{sys.version_info.major}{sys.version_info.minor}-torch{torch.__version__.split('+')[0]}-{tag}")
EOF
)"
  wheel_dir="$cache/wheels/mmcv-$MMCV_VERSION-$variant"
  wheel="$(ls "$wheel_dir"/mmcv-*.whl 2>/dev/null | head -n1 || true)"
  if [[ -z "$wheel" ]]; then
    log "building mmcv $MMCV_VERSION with ops for $variant (the longest step of a first setup; cached afterwards)"
    download_dir="$(mktemp -d "${TMPDIR:-/tmp}/ovd-mmcv-sdist.XXXXXX")"
    trap 'rm -rf "$download_dir"' EXIT
    "$py" -m pip download --disable-pip-version-check -q --no-deps --no-binary mmcv --no-build-isolation \
      "mmcv==$MMCV_VERSION" -d "$download_dir" 2>&1 | grep -v "^WARNING: Location" || true
    sdist="$download_dir/mmcv-$MMCV_VERSION.tar.gz"
    [[ -f "$sdist" ]] || { echo "[setup] could not download the mmcv $MMCV_VERSION sdist from PyPI" >&2; exit 1; }
    wheel="$(bash "$here/build_mmcv_wheel.sh" "$py" "$sdist" "$MMCV_SDIST_SHA256" "$wheel_dir")"
    log "cached $wheel"
  else
    log "installing cached $wheel"
  fi
  pip_install --no-deps --force-reinstall "$wheel"
  pip_install "mmcv==$MMCV_VERSION"  # its pure-Python requirements (addict, yapf, opencv, ...)
  mmcv_ok || { echo "[setup] mmcv $MMCV_VERSION installed but its ops do not import" >&2; exit 1; }
fi

log "ovd and its pinned dependencies"
pip_install -e ".[dev]" \
  "mmcv==$MMCV_VERSION" "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" \
  "transformers==$TRANSFORMERS_VERSION" "open_clip_torch==$OPEN_CLIP_VERSION" "lvis==$LVIS_VERSION" \
  "torch==$torch_version" "torchvision==$torchvision_version" "$SETUPTOOLS_SPEC"

# openmim looks for configs and tools in <site-packages>/ovd/.mim; an editable install (PEP 660) has no
# folder there, so point one at the checkout (imports resolve to the same files either way).
site_packages="$("$py" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")"
if [[ -d "$site_packages/ovd" && ! -L "$site_packages/ovd" ]]; then
  rm -rf "$site_packages/ovd"
fi
ln -sfn "$root/ovd" "$site_packages/ovd"

imports_ok || { echo "[setup] the environment does not import; run: $py -c 'import ovd'" >&2; exit 1; }
echo "$stamp" > "$stamp_file"
log "done in $((SECONDS - start)) s; activate with: source $venv/bin/activate"
