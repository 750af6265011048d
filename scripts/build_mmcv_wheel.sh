#!/usr/bin/env bash
# Builds an mmcv wheel with compiled ops from an sdist and puts it in a wheel folder (what
# scripts/setup_env.sh runs when no cached wheel matches; tests/foundation/test_setup_env.py runs it on a
# tiny stand-in sdist, so the cold path of a fresh machine stays tested).
#
#   bash scripts/build_mmcv_wheel.sh PYTHON SDIST SHA256 WHEEL_DIR
#
# PYTHON is the interpreter of the target environment (torch installed; relative paths are fine), SDIST the
# mmcv-X.Y.Z.tar.gz, SHA256 its expected checksum, WHEEL_DIR where the wheel goes. The sdist is verified,
# unpacked into a temporary folder, mmcv's hard-coded -std=c++17 is patched to c++20 when the torch headers
# need it (torch >= 2.10), and the wheel is built with MMCV_WITH_OPS=1. The wheel reaches WHEEL_DIR by a
# rename, so a concurrent or killed build never leaves half a wheel there. Prints the wheel's path.
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 PYTHON SDIST SHA256 WHEEL_DIR" >&2
  exit 2
fi
# The build runs inside the unpacked sdist: every path is made absolute before anything changes directory.
py="$(realpath -ms "$1")"
sdist="$(realpath "$2")"
sha256="$3"
wheel_dir="$(realpath -m "$4")"

log() { printf '[setup] %s\n' "$*" >&2; }

[[ -x "$py" ]] || { echo "[setup] $py: no such interpreter" >&2; exit 1; }
[[ -f "$sdist" ]] || { echo "[setup] $sdist: no such sdist" >&2; exit 1; }
echo "$sha256  $sdist" | sha256sum -c --quiet - >/dev/null 2>&1 \
  || { echo "[setup] checksum mismatch for $sdist (expected $sha256)" >&2; exit 1; }

build_dir="$(mktemp -d "${TMPDIR:-/tmp}/ovd-mmcv-build.XXXXXX")"
trap 'rm -rf "$build_dir"' EXIT
tar -xzf "$sdist" -C "$build_dir"
src="$build_dir/$(basename "$sdist" .tar.gz)"
[[ -f "$src/setup.py" ]] || { echo "[setup] $sdist has no $(basename "$src")/setup.py" >&2; exit 1; }
if "$py" -c "import sys, torch; sys.exit(0 if tuple(map(int, torch.__version__.split('.')[:2])) >= (2, 10) else 1)"; then
  log "torch >= 2.10 headers need C++20: patching mmcv's -std=c++17"
  sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
fi
# The compiler and setuptools are verbose: their output is shown only when the build fails.
(cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
  "$py" -m pip wheel --disable-pip-version-check -q --no-build-isolation --no-deps -w "$build_dir/dist" . \
  >"$build_dir/build.log" 2>&1) || true
built="$(ls "$build_dir"/dist/*.whl 2>/dev/null | head -n1 || true)"
if [[ -z "$built" ]]; then
  tail -n 40 "$build_dir/build.log" >&2
  echo "[setup] building a wheel from $sdist failed (the end of the build log is above)" >&2
  exit 1
fi
mkdir -p "$wheel_dir"
partial="$(mktemp "$wheel_dir/.partial.XXXXXX")"
cp "$built" "$partial"
mv "$partial" "$wheel_dir/$(basename "$built")"
echo "$wheel_dir/$(basename "$built")"
