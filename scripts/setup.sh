#!/usr/bin/env bash
# Installs what kquant-cuda needs to build and test: a C++20 compiler, CMake, CLI11, GoogleTest,
# Google Benchmark (Debian packages) and the Python test helpers (`gguf`, numpy from PyPI).
# Run as root on Debian/Ubuntu to install missing packages; otherwise it prints what to install.
set -euo pipefail

pkgs=()
need() { dpkg -s "$1" >/dev/null 2>&1 || pkgs+=("$1"); }
if command -v dpkg >/dev/null 2>&1; then
  need cmake; need g++; need make; need libcli11-dev; need libgtest-dev; need libbenchmark-dev
  need python3; need python3-pip; need gnuplot-nox
fi
if ((${#pkgs[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${pkgs[@]}" >/dev/null; }
  else
    echo "setup: missing packages: ${pkgs[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${pkgs[*]}" >&2
    exit 1
  fi
fi

py=${PYTHON:-python3}
if ! "$py" -c 'import gguf, numpy' >/dev/null 2>&1; then
  echo "setup: installing the Python packages gguf and numpy"
  "$py" -m pip install -q gguf numpy 2>/dev/null || "$py" -m pip install -q --break-system-packages gguf numpy
fi
