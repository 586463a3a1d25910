#!/usr/bin/env bash
# Build the CO-RE object shipped with Vigil: driver/linux/vigil.bpf.o.
# Needs clang, llvm (llvm-strip), bpftool and libbpf-dev (bpf_helpers.h); the kernel types
# come from this machine's BTF (/sys/kernel/btf/vmlinux), generated here and not committed.
#   driver/linux/build.sh [OUT]     (default: driver/linux/vigil.bpf.o)
# Beside OUT it writes OUT.btf-sha256, the hash of the BTF the object was built against: the
# object is byte-for-byte reproducible from the same BTF, and only from it (the local types
# the CO-RE relocations start from come from that kernel).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/vigil.bpf.o}"
btf="${VIGIL_BTF:-/sys/kernel/btf/vmlinux}"
for tool in clang llvm-strip bpftool; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool not found (apt-get install clang llvm bpftool libbpf-dev)" >&2; exit 2; }
done
[ -r /usr/include/bpf/bpf_helpers.h ] || { echo "build.sh: bpf/bpf_helpers.h not found (apt-get install libbpf-dev)" >&2; exit 2; }
[ -r "$btf" ] || { echo "build.sh: $btf not readable (a kernel with CONFIG_DEBUG_INFO_BTF)" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bpftool btf dump file "$btf" format c > "$tmp/vmlinux.h"
# Compiled from inside its folder with the folder mapped away: the object's BTF names the
# source as a relative path, so it is the same wherever the checkout lies.
(cd "$here" && clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$tmp" -I/usr/include/x86_64-linux-gnu \
  -fdebug-prefix-map="$here"=. -fdebug-compilation-dir=. -c vigil.bpf.c -o "$tmp/vigil.bpf.o")
# Debug line info names the build folder; strip DWARF (CO-RE needs only .BTF / .BTF.ext).
llvm-strip -g "$tmp/vigil.bpf.o"
mv "$tmp/vigil.bpf.o" "$out"
sha256sum "$btf" | cut -d' ' -f1 > "$out.btf-sha256"
