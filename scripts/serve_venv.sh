#!/usr/bin/env bash
# The serving venv (docs/serving.md): PyTriton's tritonserver needs a Python built with a
# shared libpython; the system /usr/bin/python3 (Debian 3.11, Py_ENABLE_SHARED=1) is one, pyenv
# builds usually are not. So `masktrt serve` runs from this venv, made without
# --system-site-packages so that no torch leaks in: runtime extras + PyTriton + tritonclient only.
#
#   scripts/serve_venv.sh [VENV_DIR]     # default: ${MASKTRT_CACHE:-~/.cache/masktrt}/serve-venv
#   SERVE_PYTHON=/path/python3 scripts/serve_venv.sh
#
# Idempotent: an existing venv whose stamp matches the pins is kept (delete it to rebuild).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-${MASKTRT_CACHE:-$HOME/.cache/masktrt}/serve-venv}"
PYTHON="${SERVE_PYTHON:-/usr/bin/python3}"
PINS="nvidia-pytriton==0.7.0 tritonclient[http]==2.73.0 pillow>=9"  # the versions tested (as the serve extra)
STAMP="$VENV/.masktrt-serve-stamp"
WANT="$PINS|$REPO|$(sha256sum "$REPO/pyproject.toml" | cut -c1-16)"  # new deps: rebuild

if [ ! -x "$PYTHON" ]; then
  echo "error: $PYTHON not found: set SERVE_PYTHON to a Python >= 3.10 built with a shared libpython" >&2
  exit 2
fi
shared="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_config_var("Py_ENABLE_SHARED") or 0)')"
if [ "$shared" != "1" ]; then
  echo "error: $PYTHON has no shared libpython (Py_ENABLE_SHARED=$shared): PyTriton's Python backend needs one; set SERVE_PYTHON to such a Python (e.g. the system python3)" >&2
  exit 2
fi
# Triton's Python stub links libpython by its soname, found by the dynamic loader: it must be
# this Python's own, or the stub runs one build's libpython under another's stdlib (a pyenv 3.11.7
# venv here gets the system 3.11.2 library and fails with "'_thread.RLock' object has no attribute
# '_recursion_count'" when the model loads).
read -r soname own < <("$PYTHON" -c 'import os, sysconfig as s; n = s.get_config_var("INSTSONAME"); print(n, os.path.realpath(os.path.join(s.get_config_var("LIBDIR"), n)))')
loaded=""
for dir in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do
  if [ -z "$loaded" ] && [ -e "$dir/$soname" ]; then loaded="$(realpath "$dir/$soname")"; fi
done
if [ -z "$loaded" ]; then
  loaded="$(/sbin/ldconfig -p 2>/dev/null | awk -v n="$soname" '$1 == n {print $NF; exit}')"
  loaded="${loaded:+$(realpath "$loaded")}"
fi
if [ "$loaded" != "$own" ]; then
  echo "error: the loader finds ${loaded:-no $soname}, not $PYTHON's own $own: PyTriton's stub would run the wrong libpython; use the system python3 (SERVE_PYTHON), or put $(dirname "$own") first on LD_LIBRARY_PATH" >&2
  exit 2
fi
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/python" ]; then
  echo "$VENV (up to date)"
  exit 0
fi
if [ -e "$VENV" ] && [ ! -f "$VENV/pyvenv.cfg" ] && [ -n "$(ls -A "$VENV")" ]; then
  echo "error: $VENV exists and is not a venv: refusing to replace it; pass another folder" >&2
  exit 2
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -e "$REPO[onnxruntime]" $PINS
"$VENV/bin/python" -c 'import masktrt, pytriton, tritonclient.http, PIL'
if "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "error: torch is importable in $VENV: it must hold the runtime only" >&2
  exit 1
fi
echo "$WANT" > "$STAMP"
echo "$VENV"
