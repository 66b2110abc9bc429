#!/usr/bin/env bash
# Build the container runtime of kprov's offline bundle from Go modules (nothing is fetched but Go modules):
# containerd with its runc shim and ctr, runc, and the reference CNI plugins kprov's flannel setup delegates to.
# Every binary is static, so it runs on any lab host whatever its libc:
#   containerd, shim, ctr  CGO_ENABLED=0 (which also leaves out the btrfs snapshotter, the one part needing cgo), with
#                          the tags and version stamps of containerd's `make STATIC=1` release build;
#   runc                   cgo with libseccomp (Debian's libseccomp-dev static library), tags "seccomp", as runc's
#                          `make static`; its version comes from the VERSION file embedded in the module;
#   CNI plugins            CGO_ENABLED=0, version stamped as the plugins' release build does.
# Binaries are cached per version below BIN_DIR and built only when missing; the bundle gets
#   runtime/bin/{containerd,containerd-shim-runc-v2,ctr,runc}  and  cni/{bridge,host-local,loopback,portmap}
# (see src/artifacts/bundle.ts). Versions are the ones in components/{containerd,runc,cni-plugins}/go.mod.
# Usage: build-runtime.sh BIN_DIR BUNDLE_DIR
set -euo pipefail
BIN_DIR=${1:?binary cache directory}
BUNDLE=${2:?bundle directory}
HERE=$(cd "$(dirname "$0")" && pwd)
export GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local
log() { echo "e2e-build: $*" >&2; }
version() { (cd "$HERE/components/$1" && go list -m -f '{{.Version}}' "$2"); }

CONTAINERD=$(version containerd github.com/containerd/containerd/v2)
RUNC=$(version runc github.com/opencontainers/runc)
CNI=$(version cni-plugins github.com/containernetworking/plugins)
CONTAINERD_BIN=$BIN_DIR/containerd-$CONTAINERD
RUNC_BIN=$BIN_DIR/runc-$RUNC
CNI_BIN=$BIN_DIR/cni-plugins-$CNI
CNI_PLUGINS=(bridge host-local loopback portmap)

# module dir, output dir, then go build arguments; the build lands in a temp dir first, so an interrupted build
# never leaves a partial set behind that the "is it built" checks would take for finished.
build() {
  local dir=$1 out=$2; shift 2
  local t=$SECONDS tmp; tmp=$(mktemp -d "$BIN_DIR/.build-XXXXXX")
  (cd "$HERE/components/$dir" && nice -n 19 go build -trimpath -o "$tmp/" "$@") || { rm -rf "$tmp"; return 1; }
  rm -rf "$out" && mv "$tmp" "$out"
  log "$dir $(basename "$out") built in $((SECONDS - t))s"
}
# shellcheck source=build-lock.sh
. "$HERE/build-lock.sh"
runtime_cached() {
  local p
  for p in "$CONTAINERD_BIN"/{containerd,containerd-shim-runc-v2,ctr} "$RUNC_BIN/runc" "${CNI_PLUGINS[@]/#/$CNI_BIN/}"; do
    [ -x "$p" ] || return 1
  done
}
# Each part is looked for again under the lock: the build we waited for may have made it.
runtime_cached || build_lock
mkdir -p "$BIN_DIR" "$BUNDLE/runtime/bin" "$BUNDLE/cni"

if ! [ -x "$CONTAINERD_BIN/containerd" ] || ! [ -x "$CONTAINERD_BIN/containerd-shim-runc-v2" ] \
  || ! [ -x "$CONTAINERD_BIN/ctr" ]; then
  pkg=github.com/containerd/containerd/v2
  tags="urfave_cli_no_docs no_btrfs osusergo netgo static_build"
  stamp="-s -w -X $pkg/version.Version=$CONTAINERD -X $pkg/version.Package=$pkg"
  # The shim is built apart, as in containerd's Makefile: "no_grpc" leaves the gRPC clients out of it only.
  CGO_ENABLED=0 build containerd "$CONTAINERD_BIN.shim" -tags "$tags no_grpc" -ldflags "$stamp" \
    $pkg/cmd/containerd-shim-runc-v2
  CGO_ENABLED=0 build containerd "$CONTAINERD_BIN" -tags "$tags" -ldflags "$stamp" $pkg/cmd/containerd $pkg/cmd/ctr
  mv "$CONTAINERD_BIN.shim/containerd-shim-runc-v2" "$CONTAINERD_BIN/" && rmdir "$CONTAINERD_BIN.shim"
fi
if ! [ -x "$RUNC_BIN/runc" ]; then
  [ -f /usr/lib/x86_64-linux-gnu/libseccomp.a ] || [ -n "$(find /usr/lib -name libseccomp.a 2>/dev/null | head -1)" ] \
    || { echo "build-runtime: runc needs libseccomp's static library (apt-get install libseccomp-dev)" >&2; exit 1; }
  CGO_ENABLED=1 build runc "$RUNC_BIN" -tags "seccomp urfave_cli_no_docs netgo osusergo" \
    -ldflags "-s -w -extldflags -static" github.com/opencontainers/runc
fi
missing=0
for p in "${CNI_PLUGINS[@]}"; do [ -x "$CNI_BIN/$p" ] || missing=1; done
if [ $missing = 1 ]; then
  pkg=github.com/containernetworking/plugins
  CGO_ENABLED=0 build cni-plugins "$CNI_BIN" \
    -ldflags "-s -w -X $pkg/pkg/utils/buildversion.BuildVersion=$CNI" \
    $pkg/plugins/main/bridge $pkg/plugins/ipam/host-local $pkg/plugins/main/loopback $pkg/plugins/meta/portmap
fi

# Copied only when different, so unchanged files keep their mtime (and SHA256SUMS is not recomputed).
put() { cmp -s "$1" "$2" || cp -f "$1" "$2"; }
for b in containerd containerd-shim-runc-v2 ctr; do put "$CONTAINERD_BIN/$b" "$BUNDLE/runtime/bin/$b"; done
put "$RUNC_BIN/runc" "$BUNDLE/runtime/bin/runc"
for p in "${CNI_PLUGINS[@]}"; do put "$CNI_BIN/$p" "$BUNDLE/cni/$p"; done
# Anything else in these directories came from another version of this script: the bundle holds exactly this set.
find "$BUNDLE/runtime/bin" -type f ! -name containerd ! -name containerd-shim-runc-v2 ! -name ctr ! -name runc -delete
# shellcheck disable=SC2046
find "$BUNDLE/cni" -type f $(printf -- '! -name %s ' "${CNI_PLUGINS[@]}") -delete
log "runtime: containerd $CONTAINERD, runc $RUNC, CNI plugins $CNI (${CNI_PLUGINS[*]})"
