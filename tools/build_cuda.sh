#!/usr/bin/env bash
# Builds facs with the `cuda` feature on a machine without a GPU (and without a system CUDA
# toolkit), and packs what an NVIDIA GPU host needs to run it into one folder:
#
#   tools/build_cuda.sh                  # -> target/facs-cuda13-sm90/  (run it as .../facs)
#   nice -n 19 tools/build_cuda.sh       # the same, yielding the CPU to other work
#
# The CUDA toolkit comes from NVIDIA's wheels on PyPI, pinned below (CUDA 13.0: nvcc,
# runtime, cccl headers, nvrtc, cuBLAS, cuRAND), installed into a Python venv. No 12.x
# nvcc wheel ships the `nvcc` driver program (only ptxas), so 12.x cannot be used here.
# The GPU host needs an NVIDIA driver of the 580 series or newer (CUDA 13.0's minimum,
# 580.65.06); nothing else: the runtime libraries travel in the pack.
#
# Settings (environment):
#   CUDA_VENV         the venv holding the wheels   (default: target/cuda13-venv)
#   CUDA_TARGET_DIR   cargo's target dir for this build, kept apart from the CPU build's
#                     so the two do not rebuild each other (default: target/cuda)
#   PACK_DIR          the folder to fill              (default: target/facs-cuda13-sm<CAP>)
#   CUDA_COMPUTE_CAP  the GPU's compute capability, no dot (default: 90 = H100/H200);
#                     without a GPU here it cannot be detected (nvidia-smi), so it is set
#   PYTHON            the Python that makes the venv  (default: python3)
#
# Why a libcuda stub: with candle's cudarc features ("dynamic-linking") the binary is
# linked against libcuda.so, the driver's library, which is not on PyPI (it comes with the
# NVIDIA driver). The script compiles a stub that defines every driver API function cudarc
# can call under the driver library's soname, libcuda.so.1; each returns
# CUDA_ERROR_STUB_LIBRARY (34), as the stub in NVIDIA's toolkit does. The linker only needs
# the names; the binary records "needs libcuda.so.1", and on the GPU host the dynamic
# loader binds those names to the real driver's libcuda.so.1. The stub is never put in the
# pack: ahead of the driver on LD_LIBRARY_PATH it would hide the GPU. It is used once more
# below, as libcuda.so.1, to run the packed binary here: CUDA then fails to start, facs
# runs on the CPU, which is what this machine can check.
#
# The binary needs libcuda.so.1 to start at all: on a host without the NVIDIA driver use
# the CPU build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

cap=${CUDA_COMPUTE_CAP:-90}
venv=${CUDA_VENV:-$root/target/cuda13-venv}
target_dir=${CUDA_TARGET_DIR:-$root/target/cuda}
pack=${PACK_DIR:-$root/target/facs-cuda13-sm$cap}
python=${PYTHON:-python3}

# One CUDA release (13.0 update 2, August 2025) throughout. nvidia-cuda-nvcc brings nvcc,
# cudafe++, ptxas, nvlink and fatbinary; -crt and nvvm (cicc, libdevice) are its parts.
packages=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85
  nvidia-cuda-nvrtc==13.0.88
  nvidia-cublas==13.0.2.14
  nvidia-curand==10.4.0.35
)

step() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'build_cuda.sh: %s\n' "$*" >&2; exit 1; }

step "CUDA wheels into $venv"
[[ -x $venv/bin/python ]] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cuda=$site/nvidia/cu13 # every CUDA 13 wheel installs into this one tree: bin, include, lib
[[ -x $cuda/bin/nvcc ]] || die "no nvcc at $cuda/bin/nvcc after installing ${packages[0]}"

step "link names and the libcuda stub in $cuda/lib"
# The wheels ship only versioned names (libcublas.so.13); `-lcublas` needs libcublas.so.
for lib in "$cuda"/lib/lib{cublas,cublasLt,cudart,curand,nvrtc}.so.*; do
  case $lib in *.alt.so.*) continue ;; esac
  ln -sf "$(basename "$lib")" "${lib%.so.*}.so"
done
# cudarc's bindings list the driver functions it can call; take the version cargo resolves.
cudarc_src=$(cargo metadata --format-version 1 --locked --features cuda |
  "$venv/bin/python" -c 'import json, os, sys
m = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"] == "cudarc"))')
[[ -f $cudarc_src/src/driver/sys/mod.rs ]] || die "cudarc's driver bindings not found in $cudarc_src"
mkdir -p "$cuda/lib/stubs"
stub_c=$(mktemp --suffix=.c)
trap 'rm -f "$stub_c"' EXIT
grep -oE '^pub unsafe fn cu[A-Za-z0-9_]+' "$cudarc_src/src/driver/sys/mod.rs" |
  awk '{print $4}' | sort -u | awk '{print "int " $1 "(void) { return 34; }"}' >"$stub_c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$cuda/lib/stubs/libcuda.so" "$stub_c"
echo "libcuda stub: $(wc -l <"$stub_c") functions from $cudarc_src" >&2

step "cargo build --release --features cuda (target dir $target_dir, sm_$cap)"
# cudarc runs `nvcc --version` (from PATH) to pick its CUDA API version and searches
# $CUDA_HOME/lib and lib/stubs for the libraries; candle-kernels' build (cudaforge) takes
# nvcc from $NVCC and the architecture from $CUDA_COMPUTE_CAP.
export PATH=$cuda/bin:$PATH
export CUDA_HOME=$cuda NVCC=$cuda/bin/nvcc CUDA_COMPUTE_CAP=$cap
export CARGO_TARGET_DIR=$target_dir
start=$(date +%s)
cargo build --release --locked --features cuda
echo "build: $(($(date +%s) - start)) s" >&2
bin=$target_dir/release/facs

step "pack into $pack"
rm -rf "$pack"
mkdir -p "$pack/bin" "$pack/lib"
cp "$bin" "$pack/bin/facs"
# Every library the binary (or a library it needs) resolves into the wheels' tree.
LD_LIBRARY_PATH=$cuda/lib ldd "$bin" | awk -v d="$cuda/lib/" 'index($3, d) == 1 {print $3}' |
  while read -r lib; do cp -L "$lib" "$pack/lib/"; done
# libnvrtc, when linked (cudarc 0.19.10 with candle 0.11.1 does not need it), loads its
# builtins library by name at run time, so ldd does not list it.
if [[ -e $pack/lib/libnvrtc.so.13 ]]; then cp -L "$cuda"/lib/libnvrtc-builtins.so.13.0 "$pack/lib/"; fi
cat >"$pack/facs" <<'EOF'
#!/bin/sh
# facs built with CUDA 13.0: runs bin/facs with the CUDA libraries in lib/. The NVIDIA
# driver (580 or newer) provides libcuda.so.1.
here=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/bin/facs" "$@"
EOF
chmod +x "$pack/facs"
{
  echo "facs $(git describe --always --dirty 2>/dev/null || echo '?'), built $(date -u +%Y-%m-%d) with --features cuda for compute capability $cap"
  echo "CUDA wheels: ${packages[*]}"
  echo "Run ./facs (it sets LD_LIBRARY_PATH to lib/). Needs an NVIDIA driver >= 580.65.06 (CUDA 13.0)."
} >"$pack/BUILD.txt"

# Every needed library must resolve from the pack, except the driver's libcuda.so.1.
missing=$(LD_LIBRARY_PATH="$pack/lib" ldd "$pack/bin/facs" |
  awk '/not found/ {print $1}' | grep -vx 'libcuda.so.1' || true)
[[ -z $missing ]] || die "not in the pack: $missing"
# Smoke test without a GPU: the stub stands in for the driver, so CUDA cannot start and
# facs must fall back to the CPU.
smoke=$(mktemp -d)
trap 'rm -f "$stub_c"; rm -rf "$smoke"' EXIT
ln -s "$cuda/lib/stubs/libcuda.so" "$smoke/libcuda.so.1"
LD_LIBRARY_PATH="$pack/lib:$smoke" "$pack/bin/facs" --version >&2
LD_LIBRARY_PATH="$pack/lib:$smoke" "$pack/bin/facs" models >&2
step "done"
LD_LIBRARY_PATH="$pack/lib" ldd "$pack/bin/facs" >&2
du -sh "$pack" "$pack"/bin/facs "$pack"/lib/* >&2
