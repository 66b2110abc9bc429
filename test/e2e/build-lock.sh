# Sourced by the e2e build scripts: one build at a time in the e2e cache. CI builds in the background
# (test/e2e/prebuild.sh) while the tests run, and a test that needs something still being built waits here for it
# instead of building it a second time beside it. Call build_lock right before the first thing that builds, so a
# script that finds everything cached never waits. Scripts run by a script holding the lock (build-artifacts.sh
# runs build-runtime.sh) inherit it.
build_lock() {
  [ -z "${KPROV_E2E_BUILD_LOCKED:-}" ] || return 0
  local root=${KPROV_E2E_CACHE:-$HOME/.cache/kprov-e2e}
  mkdir -p "$root"
  exec 9>>"$root/.build.lock"
  if ! flock -n 9; then
    echo "e2e-build: waiting for the build that holds $root/.build.lock (see ps for what it is building)" >&2
    flock 9
  fi
  export KPROV_E2E_BUILD_LOCKED=1
}
