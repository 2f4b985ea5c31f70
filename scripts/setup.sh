#!/usr/bin/env bash
# Set up a clone: Debian's Fashion-MNIST package when the files are missing
# (apt-get as root, or through sudo), then the npm dependencies (npm ci).
# With --test, also what `npm test` needs beyond npm: Debian's chromium, for
# the browser test, DejaVu fonts for the PNG tests, and Mesa's CPU drivers for the WebGPU tests (lavapipe for
# Deno's Vulkan, llvmpipe through EGL for Node's OpenGL). Without apt the dataset is left to the loader, which
# downloads it when it can, or says where to put the files.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || packages+=(dataset-fashion-mnist)
has_chromium() { [ -n "${CHROMIUM:-}" ] || command -v chromium || command -v chromium-browser || command -v google-chrome; } > /dev/null
if [ "${1:-}" = --test ] && ! has_chromium; then packages+=(chromium); fi
# lavapipe, a CPU Vulkan driver: WebGPU (Deno's) gets an adapter on a machine without a GPU.
if [ "${1:-}" = --test ] && [ ! -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ]; then packages+=(mesa-vulkan-drivers); fi
# Mesa's EGL and llvmpipe, for Node's WebGPU (the webgpu package, Dawn on OpenGL), which loads the unversioned libEGL.so.
if [ "${1:-}" = --test ] && ! ls /usr/lib/*-linux-gnu/libEGL.so > /dev/null 2>&1; then packages+=(libegl-dev libegl-mesa0 libgl1-mesa-dri); fi
# A font for the plots' text in the PNG tests (resvg draws with the system's fonts).
if [ "${1:-}" = --test ] && [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then packages+=(fonts-dejavu-core); fi
if [ ${#packages[@]} -gt 0 ] && command -v apt-get > /dev/null; then
  as_root=$([ "$(id -u)" = 0 ] && echo "" || (command -v sudo > /dev/null && echo sudo) || echo none)
  if [ "$as_root" = none ]; then
    echo "setup: not root and no sudo; skipping apt-get install ${packages[*]}" >&2
  else
    export DEBIAN_FRONTEND=noninteractive
    $as_root apt-get update -qq
    $as_root apt-get install -y -qq --no-install-recommends "${packages[@]}"
  fi
fi
npm ci --no-audit --no-fund
