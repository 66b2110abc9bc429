#!/usr/bin/env bash
# Build, in the order the tests need them, everything the e2e tests and the Conformance slice build for themselves:
# the runtime (integration tests), the default release's bundle (the cluster suites), upstream's kubeadm tools
# (dry-run, interop and foreign-join suites), the previous minor's bundle (the upgrade's starting point), then the
# Conformance programs and images. CI runs this niced in the background from the start, so the builds take the cores
# the tests leave idle; a test that reaches something not built yet waits for it on the build lock (build-lock.sh),
# and anything left unbuilt here (a failure) is built by the test that needs it, which reports it.
# Usage: prebuild.sh   (after npm ci, which builds dist/, and with the lab base image built)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${KPROV_E2E_CACHE:-$HOME/.cache/kprov-e2e}
eval "$(node --input-type=module -e "
  const v = await import('$HERE/../../dist/kubeadm/versions.js');
  const img = await import('$HERE/../../dist/lab/image.js');
  const k8s = v.DEFAULT_KUBERNETES_VERSION;
  console.log('K8S=' + k8s + ' PREVIOUS=' + v.RELEASES[v.minorOf(k8s) - 1].tested + ' BASE=' + img.LAB_BASE_IMAGE);
")"
failed=0
# A step that fails is reported and the next ones go on: the test that needs it builds it again and says why.
step() {
  local t=$SECONDS out
  if out=$(bash "$@" | tail -n 1); then
    echo "prebuild: $(basename "$1") ${*:2} done in $((SECONDS - t)) s (${SECONDS} s since the start)" >&2
    LAST=$out
  else
    echo "prebuild: $(basename "$1") ${*:2} FAILED after $((SECONDS - t)) s" >&2
    failed=1 LAST=
  fi
}
step "$HERE/build-runtime.sh" "$ROOT/runtime" "$ROOT/$K8S/bundle"
step "$HERE/build-artifacts.sh" "$BASE" "$K8S"
step "$HERE/build-kubeadm-tools.sh" "$K8S"
step "$HERE/build-artifacts.sh" "$BASE" "$PREVIOUS"
step "$HERE/../conformance/build-conformance.sh" "$K8S"
[ -z "$LAST" ] || step "$HERE/../conformance/build-images.sh" "$BASE" "$LAST" "$K8S"
echo "prebuild: finished in ${SECONDS} s" >&2
exit $failed
