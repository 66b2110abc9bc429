#!/usr/bin/env bash
# Build the upstream components kprov's end-to-end tests run for one Kubernetes release (Kubernetes from its Go
# modules, etcd, CoreDNS, flannel and its CNI plugin, a pause binary), cache them by version outside the repo, and
# assemble an offline artifact bundle exactly as kprov's artifacts_dir expects: bin/kubelet, bin/kubectl,
# images/*.tar. One bundle per Kubernetes version. Images are made locally (docker build without pulls); nothing is
# fetched but Go modules.
# Usage: build-artifacts.sh <lab base image> [Kubernetes version, default kprov's]   (after npm ci, which builds dist/)
# The etcd, CoreDNS and pause versions come from kprov's release table (src/kubeadm/versions.ts). Prints the bundle
# directory on the last line.
set -euo pipefail
BASE_IMAGE=${1:?lab base image}
HERE=$(cd "$(dirname "$0")" && pwd)
eval "$(node --input-type=module -e "
  const v = await import('$HERE/../../dist/kubeadm/versions.js');
  const k8s = process.argv[1] || v.DEFAULT_KUBERNETES_VERSION;
  const r = v.releaseOf(k8s);
  console.log('K8S=' + k8s + ' ETCD_TAG=' + r.etcd + ' COREDNS_TAG=' + r.coredns + ' PAUSE_TAG=' + r.pause);
" "${2:-}")"
FLANNEL_TAG=v0.28.9
FLANNEL_CNI_TAG=v1.9.1-flannel3
ROOT=${KPROV_E2E_CACHE:-$HOME/.cache/kprov-e2e}
CACHE=$ROOT/$K8S
BIN=$CACHE/bin
BUNDLE=$CACHE/bundle
export GOSUMDB=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
mkdir -p "$BIN" "$BUNDLE/bin" "$BUNDLE/images"
log() { echo "e2e-build: $*" >&2; }
timed() { local t=$SECONDS; "$@"; log "$1 ${2:-} done in $((SECONDS - t))s"; }

# shellcheck source=gomodule.sh
. "$HERE/gomodule.sh"  # gomodule, gobuild, k8s_ldflags, build_lock
K8S_LDFLAGS=$(k8s_ldflags "$K8S")

# A bundle finished from the same recipe, versions and base image is used as it is, without waiting for the build
# lock (CI's background build may hold it for another version meanwhile). The recipe: these scripts, pause.c and
# the pinned component modules.
INPUTS=$({ echo "$K8S $ETCD_TAG $COREDNS_TAG $PAUSE_TAG $FLANNEL_TAG $FLANNEL_CNI_TAG $BASE_IMAGE"
  docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true
  cat "$HERE"/{build-artifacts.sh,build-runtime.sh,gomodule.sh,build-lock.sh} "$HERE/images/pause.c" \
    "$HERE"/components/*/go.mod "$HERE"/components/*/go.sum; } | sha256sum | cut -c1-64)
bundle_complete() {
  [ "$(cat "$BUNDLE/.complete" 2>/dev/null)" = "$INPUTS" ] && [ -f "$BUNDLE/SHA256SUMS" ] || return 1
  local f; while read -r _ f; do [ -f "$BUNDLE/$f" ] || return 1; done < "$BUNDLE/SHA256SUMS"
}
if bundle_complete; then echo "$BUNDLE"; exit 0; fi
build_lock
rm -f "$BUNDLE/.complete"

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)
need=()
for b in "${K8S_CMDS[@]}"; do [ -x "$BIN/$b" ] || need+=("k8s.io/kubernetes/cmd/$b"); done
if [ ${#need[@]} -gt 0 ]; then
  mod=$(gomodule "kubernetes-$K8S" "k8s.io/kubernetes@$K8S" "${K8S_CMDS[@]/#/k8s.io/kubernetes/cmd/}")
  LDFLAGS=$K8S_LDFLAGS timed gobuild "$mod" "${need[@]}"
fi
# etcd and CoreDNS versions are shared between Kubernetes releases: cached by their own version.
ETCD_BIN=$ROOT/components/etcd-$ETCD_TAG
COREDNS_BIN=$ROOT/components/coredns-$COREDNS_TAG
mkdir -p "$ETCD_BIN" "$COREDNS_BIN"
if [ ! -x "$ETCD_BIN/etcd" ]; then
  ETCD_V=v${ETCD_TAG%-*}
  mod=$(gomodule "etcd-$ETCD_V" "go.etcd.io/etcd/server/v3@$ETCD_V" go.etcd.io/etcd/server/v3)
  OUT=$ETCD_BIN LDFLAGS="-X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_V" timed gobuild "$mod" go.etcd.io/etcd/server/v3
  mv "$ETCD_BIN/server" "$ETCD_BIN/etcd"
fi
# etcdutl ships in upstream's etcd image beside etcd: kprov restore runs it from the image (snapshot restore).
if [ ! -x "$ETCD_BIN/etcdutl" ]; then
  ETCD_V=v${ETCD_TAG%-*}
  mod=$(gomodule "etcdutl-$ETCD_V" "go.etcd.io/etcd/etcdutl/v3@$ETCD_V" go.etcd.io/etcd/etcdutl/v3)
  OUT=$ETCD_BIN LDFLAGS="-X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_V" timed gobuild "$mod" go.etcd.io/etcd/etcdutl/v3
  [ -x "$ETCD_BIN/etcdutl" ] || mv "$ETCD_BIN/v3" "$ETCD_BIN/etcdutl"
fi
if [ ! -x "$COREDNS_BIN/coredns" ]; then
  mod=$(gomodule "coredns-$COREDNS_TAG" "github.com/coredns/coredns@$COREDNS_TAG" github.com/coredns/coredns)
  OUT=$COREDNS_BIN timed gobuild "$mod" github.com/coredns/coredns
fi
# flannel's udp backend needs cgo; the image sits on the same Debian release as this machine, so glibc matches.
FLANNEL_BIN=$ROOT/components/flannel-$FLANNEL_TAG
mkdir -p "$FLANNEL_BIN"
[ -x "$FLANNEL_BIN/flanneld" ] || { OUT=$FLANNEL_BIN CGO_ENABLED=1 timed gobuild "$HERE/components/flannel" github.com/flannel-io/flannel && mv "$FLANNEL_BIN/flannel" "$FLANNEL_BIN/flanneld"; }
[ -x "$FLANNEL_BIN/flannel-cni" ] || { OUT=$FLANNEL_BIN timed gobuild "$HERE/components/cni-flannel" github.com/containernetworking/plugins/plugins/meta/flannel && mv "$FLANNEL_BIN/flannel" "$FLANNEL_BIN/flannel-cni"; }
# Rebuilt when pause.c changes (its hash is kept beside the binary), which in turn rebuilds the image.
PAUSE_SRC=$(sha256sum < "$HERE/images/pause.c" | cut -c1-64)
if [ ! -x "$BIN/pause" ] || [ "$(cat "$BIN/pause.src-sha256" 2>/dev/null)" != "$PAUSE_SRC" ]; then
  gcc -Os -static -DVERSION="v$PAUSE_TAG" -o "$BIN/pause" "$HERE/images/pause.c" && echo "$PAUSE_SRC" > "$BIN/pause.src-sha256"
fi

for b in kubelet kubectl; do cmp -s "$BIN/$b" "$BUNDLE/bin/$b" || cp -f "$BIN/$b" "$BUNDLE/bin/"; done

# image ref, base (scratch or the lab base), then "src:dst" copies; with SAVE=0 the image is built but not saved
# on its own (the Debian-based ones are saved together below).
image() {
  local ref=$1 base=$2 entry=$3; shift 3
  local file="$BUNDLE/images/$(echo "$ref" | tr '/:' '__').tar"
  # An image is reused only while what it was built from is unchanged (its label records that).
  local inputs; inputs=$({ echo "$ref $base $entry $*"; for pair in "$@"; do sha256sum < "${pair%%:*}"; done; } | sha256sum | cut -c1-64)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "kprov.inputs" }}' "$ref" 2>/dev/null)" = "$inputs" ]; then
    [ "${SAVE:-1}" = 0 ] || [ -f "$file" ] || docker save -o "$file" "$ref"
    return 0
  fi
  local ctx; ctx=$(mktemp -d)
  { echo "FROM $base"; echo 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin'
    for pair in "$@"; do cp "${pair%%:*}" "$ctx/"; echo "COPY $(basename "${pair%%:*}") ${pair#*:}"; done
    if [ -n "$entry" ]; then echo "ENTRYPOINT [\"$entry\"]"; fi; echo "LABEL kprov.inputs=$inputs"; } > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t "$ref" "$ctx" >/dev/null 2>&1 || { echo "docker build of $ref failed" >&2; DOCKER_BUILDKIT=0 docker build -t "$ref" "$ctx" >&2; exit 1; }
  rm -rf "$ctx"
  rm -f "$file" "$BUNDLE/images/debian-based.tar"
  [ "${SAVE:-1}" = 0 ] || docker save -o "$file" "$ref"
  log "image $ref"
}
R=registry.k8s.io
image $R/kube-apiserver:$K8S scratch "" "$BIN/kube-apiserver:/usr/local/bin/kube-apiserver"
image $R/kube-controller-manager:$K8S scratch "" "$BIN/kube-controller-manager:/usr/local/bin/kube-controller-manager"
image $R/kube-scheduler:$K8S scratch "" "$BIN/kube-scheduler:/usr/local/bin/kube-scheduler"
image $R/etcd:$ETCD_TAG scratch "" "$ETCD_BIN/etcd:/usr/local/bin/etcd" "$ETCD_BIN/etcdutl:/usr/local/bin/etcdutl"
image $R/coredns/coredns:$COREDNS_TAG scratch /coredns "$COREDNS_BIN/coredns:/coredns"
image $R/pause:$PAUSE_TAG scratch /pause "$BIN/pause:/pause"
# These run iptables and cp, so they sit on the Debian lab base, as do the test workloads (a web server and a
# toolbox). They are saved into one tarball so the shared 240 MB base layer is sent to each host once, not five times.
SAVE=0 image $R/kube-proxy:$K8S "$BASE_IMAGE" "" "$BIN/kube-proxy:/usr/local/bin/kube-proxy"
SAVE=0 image ghcr.io/flannel-io/flannel:$FLANNEL_TAG "$BASE_IMAGE" "" "$FLANNEL_BIN/flanneld:/opt/bin/flanneld"
SAVE=0 image ghcr.io/flannel-io/flannel-cni-plugin:$FLANNEL_CNI_TAG "$BASE_IMAGE" "" "$FLANNEL_BIN/flannel-cni:/flannel"
if ! docker image inspect kprov.local/nginx:1 >/dev/null 2>&1; then
  ctx=$(mktemp -d)
  printf 'FROM %s\nRUN apt-get update -q && apt-get install -y -q --no-install-recommends nginx-light && rm -rf /var/lib/apt/lists/* && ln -sf /dev/stdout /var/log/nginx/access.log\nCMD ["nginx", "-g", "daemon off;"]\n' "$BASE_IMAGE" > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t kprov.local/nginx:1 "$ctx" >/dev/null
  rm -rf "$ctx"
  rm -f "$BUNDLE/images/debian-based.tar"
fi
docker image inspect kprov.local/toolbox:1 >/dev/null 2>&1 || { docker tag "$BASE_IMAGE" kprov.local/toolbox:1; rm -f "$BUNDLE/images/debian-based.tar"; }
# Tarballs of earlier harness versions, one per image: their images are in debian-based.tar now.
rm -f "$BUNDLE"/images/{registry.k8s.io_kube-proxy,ghcr.io_flannel-io_flannel,kprov.local_nginx,kprov.local_toolbox}_*.tar "$BUNDLE"/images/ghcr.io_flannel-io_flannel-cni-plugin_*.tar
[ -f "$BUNDLE/images/debian-based.tar" ] || { docker save -o "$BUNDLE/images/debian-based.tar" $R/kube-proxy:$K8S ghcr.io/flannel-io/flannel:$FLANNEL_TAG ghcr.io/flannel-io/flannel-cni-plugin:$FLANNEL_CNI_TAG kprov.local/nginx:1 kprov.local/toolbox:1; log "image bundle debian-based.tar"; }

"$HERE/build-runtime.sh" "${KPROV_E2E_CACHE:-$HOME/.cache/kprov-e2e}/runtime" "$BUNDLE"  # containerd, runc, CNI plugins

# Hashing the 1.8 GB bundle takes seconds: only when something in it is newer than the last sums.
# (or when files came or went).
if [ ! -f "$BUNDLE/SHA256SUMS" ] || [ -n "$(cd "$BUNDLE" && find bin cni images runtime -type f -newer SHA256SUMS | head -1)" ] \
   || [ "$(cd "$BUNDLE" && find bin cni images runtime -type f | sort)" != "$(awk '{print $2}' "$BUNDLE/SHA256SUMS")" ]; then
  (cd "$BUNDLE" && find bin cni images runtime -type f | sort | xargs sha256sum > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
fi
echo "$INPUTS" > "$BUNDLE/.complete"
echo "$BUNDLE"
