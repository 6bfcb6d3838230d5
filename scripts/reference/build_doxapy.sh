#!/usr/bin/env bash
# Builds doxapy 0.9.9 (the first DoxaPy with pseudo F-measure, recall/precision and
# generate_pseudo_weights) for the project's Python, next to the doxapy 0.9.2 that pip installs.
#
# Why: doxapy >= 0.9.4 declares Requires-Python >= 3.12 (it ships a cp312 stable-ABI wheel),
# while the project venv runs Python 3.11, where only doxapy 0.9.2 installs. 0.9.2 has no
# pseudo F-measure and an older DRD (see scripts/reference/DIBCO_METRICS.md). Nothing in
# 0.9.9's C++ needs 3.12: this script takes the 0.9.9 sdist from PyPI and compiles its
# unmodified DoxaPy.cpp with g++ against the nanobind wheel's sources (no CMake, no
# scikit-build), the way nanobind builds a non-stable-ABI module on older Pythons.
#
# Output: $VENV/doxapy-0.9.9/doxapy/{__init__.py, doxapy<EXT_SUFFIX>} (inside the ignored venv
# folder, never in the repository). dibco_reference.py loads it from there under another module
# name, so both versions are used in one process. Needs g++ and the Python headers
# (Debian: python3-dev). Takes ~10 s of compilation on one core.
#
# Usage: scripts/reference/build_doxapy.sh [--force]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$("$root/scripts/python-env")
py="$venv/bin/python"
doxapy_version=0.9.9
nanobind_version=3.1.0
out="$venv/doxapy-$doxapy_version/doxapy"
ext=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
if [[ "${1:-}" != "--force" && -f "$out/doxapy$ext" && -f "$out/__init__.py" ]]; then
  echo "build_doxapy: $out already built (--force to rebuild)" >&2
  echo "$out"
  exit 0
fi
command -v g++ >/dev/null || { echo "build_doxapy: g++ is needed (apt-get install g++)" >&2; exit 1; }
pyinc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[[ -f "$pyinc/Python.h" ]] || { echo "build_doxapy: no Python.h in $pyinc (apt-get install python3-dev)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cvseg-doxapy-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "build_doxapy: downloading doxapy $doxapy_version (sdist) and nanobind $nanobind_version (wheel)" >&2
# --ignore-requires-python: the sdist says >= 3.12; --no-binary doxapy: take the sdist, but let
# its build backend (needed to read the sdist's metadata) come as wheels.
"$py" -m pip download -q --no-deps --ignore-requires-python --no-binary doxapy \
  "doxapy==$doxapy_version" -d "$tmp/dl" >&2
"$py" -m pip download -q --no-deps "nanobind==$nanobind_version" -d "$tmp/dl" >&2
tar -xzf "$tmp/dl/doxapy-$doxapy_version.tar.gz" -C "$tmp"
"$py" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
  "$tmp/dl/nanobind-$nanobind_version-py3-none-any.whl" "$tmp/nb"
src="$tmp/doxapy-$doxapy_version/src"
nb="$tmp/nb/nanobind"

mkdir -p "$out"
echo "build_doxapy: compiling $src/DoxaPy.cpp" >&2
# The flags of the sdist's CMakeLists.txt (Release: -O3, -msse2, -Wno-narrowing; C++17), minus LTO.
nice -n 10 g++ -O3 -std=c++17 -shared -fPIC -fvisibility=hidden -msse2 -Wno-narrowing -DNDEBUG \
  -I"$pyinc" -I"$nb/include" -I"$nb/ext/robin_map/include" -I"$src/Doxa" -I"$src" \
  "$src/DoxaPy.cpp" "$nb/src/nb_combined.cpp" -o "$out/doxapy$ext"
cp "$src/doxapy/__init__.py" "$out/__init__.py"
# Keep the C++ sources next to the module: DIBCO_METRICS.md cites them by file name.
rm -rf "$out/../src" && cp -r "$src" "$out/../src"
echo "$doxapy_version" > "$out/../VERSION"
echo "build_doxapy: built $out/doxapy$ext" >&2
echo "$out"
