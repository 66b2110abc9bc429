#!/usr/bin/env bash
# Build upstream's Conformance suite for one Kubernetes release from the same generated Go module as the cluster
# components (test/e2e/build-artifacts.sh), with the release's version stamps: e2e.test (k8s.io/kubernetes/test/e2e
# compiled with `go test -c`), the ginkgo CLI that runs it on parallel nodes (the version the release's go.mod pins),
# and the Go programs of the test images: agnhost, nonewprivs' nnp (k8s.io/kubernetes/test/images/...) and the
# sample API server (k8s.io/sample-apiserver at the release's staging version). Nothing is fetched but Go modules.
# Usage: build-conformance.sh [Kubernetes version, default kprov's]   (after npm ci, which builds dist/)
# Output: $KPROV_E2E_CACHE/<version>/conformance/{e2e.test,ginkgo,agnhost,nnp,sample-apiserver}, each built only
# when missing; prints the directory on the last line.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
K8S=$(node --input-type=module -e "
  const v = await import('$HERE/../../dist/kubeadm/versions.js');
  const k8s = process.argv[1] || v.DEFAULT_KUBERNETES_VERSION;
  v.releaseOf(k8s);  // refuses a version kprov does not support
  console.log(k8s);
" "${1:-}")
ROOT=${KPROV_E2E_CACHE:-$HOME/.cache/kprov-e2e}
OUT=$ROOT/$K8S/conformance
export GOSUMDB=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
log() { echo "conformance-build: $*" >&2; }
# shellcheck source=../e2e/gomodule.sh
. "$HERE/../e2e/gomodule.sh"  # gomodule, gobuild, k8s_ldflags

# output name, then the package it is built from
PROGRAMS=(
  "ginkgo github.com/onsi/ginkgo/v2/ginkgo"
  "agnhost k8s.io/kubernetes/test/images/agnhost"
  "nnp k8s.io/kubernetes/test/images/nonewprivs"
  "sample-apiserver k8s.io/sample-apiserver"
)
missing=0
[ -x "$OUT/e2e.test" ] || missing=1
for p in "${PROGRAMS[@]}"; do [ -x "$OUT/${p%% *}" ] || missing=1; done
if [ "$missing" = 1 ]; then
  build_lock  # and then each program is looked for again: the build we waited for may have made it
  # The cluster components' packages plus the suite's: one module (and one warm build cache) for the release.
  CMDS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)
  mod=$(gomodule "kubernetes-$K8S" "k8s.io/kubernetes@$K8S" "${CMDS[@]/#/k8s.io/kubernetes/cmd/}" \
    k8s.io/kubernetes/test/e2e "${PROGRAMS[@]#* }")
  mkdir -p "$OUT"
  tmp=$(mktemp -d "$OUT/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  for p in "${PROGRAMS[@]}"; do
    name=${p%% *} pkg=${p#* }
    [ ! -x "$OUT/$name" ] || continue
    t=$SECONDS
    mkdir "$tmp/$name"
    OUT=$tmp/$name LDFLAGS='' gobuild "$mod" "$pkg"
    mv "$tmp/$name/$(basename "$pkg")" "$OUT/$name"
    log "$name done in $((SECONDS - t))s"
  done
  if [ ! -x "$OUT/e2e.test" ]; then
    t=$SECONDS
    # The suite's _test.go files import more than its package does: -mod=mod lets go add their sums to go.sum.
    (cd "$mod" && go test -c -vet=off -trimpath -ldflags="-s -w $(k8s_ldflags "$K8S")" -o "$tmp/e2e.test" k8s.io/kubernetes/test/e2e)
    mv "$tmp/e2e.test" "$OUT/e2e.test"
    log "e2e.test done in $((SECONDS - t))s"
  fi
fi
echo "$OUT"
