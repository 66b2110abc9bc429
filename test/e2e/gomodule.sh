# Sourced by the e2e build scripts (build-artifacts.sh, build-kubeadm-tools.sh): generated Go modules that build
# upstream commands from the module proxy, and the version stamps of Kubernetes release builds.
# Expects ROOT (the e2e cache) and, for gobuild, BIN (default output directory); callers export GOFLAGS=-mod=mod etc.
# Callers take build_lock (build-lock.sh) before generating a module or building.

# shellcheck source=build-lock.sh
. "$(dirname "${BASH_SOURCE[0]}")/build-lock.sh"

# A throwaway Go module that requires one upstream module at one version, generated once per version under
# $ROOT/modules (the module proxy's content is immutable, so `go mod tidy` resolves the same graph every time).
# Args: name, module@version, then the packages to pin; prints the module directory. A module generated earlier for
# fewer packages gets the missing ones added to its tools.go and is tidied once more, so one module (and one warm
# build cache) serves every script that builds from the same release.
gomodule() {
  local name=$1 modver=$2; shift 2
  local dir=$ROOT/modules/$name
  if [ ! -f "$dir/go.sum" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    { echo '//go:build tools'; echo; echo 'package tools'; echo; for p in "$@"; do echo "import _ \"$p\""; done; } > "$dir/tools.go"
    local upstream; upstream=$(cd "$dir" && go mod download -json "$modver" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    { echo "module kprov.local/e2e-$name"; echo; grep -m1 '^go ' "$upstream"; echo; echo "require ${modver/@/ }"
      # k8s.io/kubernetes names its staging modules v0.0.0 with local replaces, which do not apply to a dependent
      # module: point each at its published version (v1.37.2 -> v0.37.2).
      if [ "${modver%@*}" = k8s.io/kubernetes ]; then
        local v=${modver#*@v1.}
        echo 'replace ('
        sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 v0.'"$v"'#p' "$upstream"
        echo ')'
      fi; } > "$dir/go.mod"
    (cd "$dir" && go mod tidy) >&2
  else
    local p added=0
    for p in "$@"; do
      grep -qxF "import _ \"$p\"" "$dir/tools.go" || { echo "import _ \"$p\"" >> "$dir/tools.go"; added=1; }
    done
    [ "$added" = 0 ] || (cd "$dir" && go mod tidy) >&2
  fi
  echo "$dir"
}
gobuild() { # module dir, then packages; binaries land in $OUT (default $BIN)
  local dir=$1; shift
  (cd "$dir" && go build -trimpath -ldflags="-s -w ${LDFLAGS:-}" -o "${OUT:-$BIN}/" "$@")
}
# What hack/lib/version.sh stamps into release builds: components report and check their version. Arg: vX.Y.Z
k8s_ldflags() {
  local pkg flags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags="$flags -X $pkg.gitVersion=$1 -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$1" | cut -d. -f2) -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}
