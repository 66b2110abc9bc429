#!/usr/bin/env bash
# Build the container images upstream's Conformance specs run, locally (no registry is reachable), under the exact
# names and tags the e2e framework of this release expects (e2e.test --list-images, from
# test/utils/image/manifest.go), and save them into one tarball to import on every node.
#   agnhost, kitten, nautilus     Debian (the lab base) with the tools upstream's alpine image installs (dig, curl,
#                                 nc, ip/ss, iperf, socat, ipcs, bash), the agnhost binary built from the release,
#                                 CoreDNS, porter's certificate, agnhost-2, user 1000 in group 50000
#   busybox                       busybox 1.37.0 (upstream's busybox image's version) built from its release source
#                                 with defconfig, static, alone with its applets linked into /bin
#   nginx (both tags)             Debian's nginx-light listening on 80
#   glibc-dns-testing             Debian's dnsutils and CoreDNS
#   nonroot, nonewprivs           USER 1234 / the release's nnp, setuid
#   sample-apiserver              k8s.io/sample-apiserver at the release's staging version
#   pause, etcd                   from the cluster bundle (test/e2e/build-artifacts.sh): not built here; etcd is
#                                 saved in the tarball too (the bundle puts it on masters only)
# Everything else --list-images names is used only by specs outside [Conformance] and is not built (the runner
# checks every node has each image the selected specs need before it starts).
# Usage: build-images.sh <lab base image> <conformance dir (build-conformance.sh)> [Kubernetes version]
# Prints the tarball's path on the last line.
set -euo pipefail
BASE=${1:?lab base image}
BIN=${2:?conformance directory}
HERE=$(cd "$(dirname "$0")" && pwd)
eval "$(node --input-type=module -e "
  const v = await import('$HERE/../../dist/kubeadm/versions.js');
  const k8s = process.argv[1] || v.DEFAULT_KUBERNETES_VERSION;
  console.log('K8S=' + k8s + ' COREDNS_TAG=' + v.releaseOf(k8s).coredns);
" "${3:-}")"
ROOT=${KPROV_E2E_CACHE:-$HOME/.cache/kprov-e2e}
# shellcheck source=../e2e/build-lock.sh
. "$HERE/../e2e/build-lock.sh"
build_lock
COREDNS=$ROOT/components/coredns-$COREDNS_TAG/coredns
[ -x "$COREDNS" ] || { echo "no CoreDNS binary at $COREDNS: run test/e2e/build-artifacts.sh first" >&2; exit 1; }
SRC=$(cd "$ROOT/modules/kubernetes-$K8S" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images
TAR=$BIN/images.tar
log() { echo "conformance-images: $*" >&2; }

# The images by the name the framework gives them (whatever registry KUBE_TEST_REPO_LIST would set).
declare -A REF
while read -r ref; do
  name=${ref##*/}; name=${name%%:*}
  case "$ref" in
    */e2e-test-images/agnhost:*) REF[agnhost]="${REF[agnhost]:-} $ref" ;;
    */e2e-test-images/*) REF[$name]="${REF[$name]:-} $ref" ;;
  esac
done < <("$BIN/e2e.test" --list-images)

# name, then Dockerfile lines; files to COPY are taken from $ctx. A step whose Dockerfile and files are unchanged is
# reused (docker's build cache), so a second run builds nothing.
build() {
  local name=$1 dockerfile=$2 refs=${REF[$1]:-}
  [ -n "$refs" ] || { echo "e2e.test --list-images names no $name image" >&2; exit 1; }
  printf '%s\n' "$dockerfile" > "$ctx/Dockerfile.$name"
  local tags=() r; for r in $refs; do tags+=(-t "$r"); done
  DOCKER_BUILDKIT=0 docker build -q -f "$ctx/Dockerfile.$name" "${tags[@]}" "$ctx" >/dev/null 2>"$ctx/err" \
    || { cat "$ctx/err" >&2; echo "docker build of $name failed" >&2; exit 1; }
  log "$name:$refs"
}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$BIN/agnhost" "$BIN/nnp" "$BIN/sample-apiserver" "$COREDNS" "$ctx/"
cp "$SRC/agnhost/porter/localhost.crt" "$SRC/agnhost/porter/localhost.key" "$ctx/"
cp "$SRC/kitten/html/kitten.jpg" "$SRC/nautilus/html/nautilus.jpg" "$ctx/"
cp "$SRC/kitten/html/data.json" "$ctx/kitten.json"; cp "$SRC/nautilus/html/data.json" "$ctx/nautilus.json"
# busybox from its source, as Docker's busybox image is built: Debian's busybox-static drops environment variables
# whose names are not shell identifiers (data-1) before `sh -c env` prints them, which four Conformance specs check.
# Built once per version into the components cache. tc is left out: no spec uses it, and it does not build against
# kernel headers from 6.8 on (CBQ was removed).
BUSYBOX_VERSION=1.37.0
BUSYBOX_SHA256=3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4
BUSYBOX=$ROOT/components/busybox-$BUSYBOX_VERSION/busybox
if [ ! -x "$BUSYBOX" ]; then
  log "building busybox $BUSYBOX_VERSION from source"
  bb=$(mktemp -d)
  curl -fsSL --retry 3 -o "$bb/src.tar.bz2" \
    "http://deb.debian.org/debian/pool/main/b/busybox/busybox_$BUSYBOX_VERSION.orig.tar.bz2"
  echo "$BUSYBOX_SHA256  $bb/src.tar.bz2" | sha256sum -c --quiet -
  tar -xjf "$bb/src.tar.bz2" -C "$bb"
  (cd "$bb/busybox-$BUSYBOX_VERSION" && make defconfig >/dev/null \
    && sed -i 's/^# CONFIG_STATIC is not set/CONFIG_STATIC=y/; s/^CONFIG_TC=y/# CONFIG_TC is not set/' .config \
    && make -j"$(nproc)" busybox >"$bb/build.log" 2>&1) || { tail -20 "$bb/build.log" >&2; exit 1; }
  mkdir -p "$(dirname "$BUSYBOX")"
  cp "$bb/busybox-$BUSYBOX_VERSION/busybox" "$BUSYBOX.tmp" && mv "$BUSYBOX.tmp" "$BUSYBOX"
  rm -rf "$bb"
fi
cp "$BUSYBOX" "$ctx/busybox"
APT='apt-get update -q && apt-get install -y -q --no-install-recommends'
CLEAN='rm -rf /var/lib/apt/lists/*'

build agnhost "FROM $BASE
RUN $APT bind9-dnsutils curl netcat-openbsd iproute2 iputils-ping iperf bash util-linux socat && $CLEAN
RUN mkdir /uploads && useradd -u 1000 -M -s /bin/sh user-defined-in-image \\
 && groupadd -g 50000 group-defined-in-image && usermod -aG group-defined-in-image user-defined-in-image
COPY coredns /coredns
COPY localhost.crt localhost.key /
COPY agnhost /agnhost
RUN ln -s agnhost /agnhost-2
WORKDIR /
STOPSIGNAL SIGTERM
EXPOSE 80 8080 8081 9376 5000
ENTRYPOINT [\"/agnhost\"]
CMD [\"pause\"]"
AGNHOST=${REF[agnhost]%% *}; AGNHOST=${AGNHOST# }
for pic in kitten nautilus; do
  build $pic "FROM ${REF[agnhost]##* }
COPY $pic.jpg /$pic.jpg
COPY $pic.json /data.json
CMD [\"test-webserver\"]"
done
build busybox "FROM $BASE AS deb
COPY busybox /out/bin/busybox
RUN mkdir -p /out/etc /out/tmp /out/root /out/home /out/var/www /out/usr/bin /out/usr/sbin /out/sbin \\
 && chmod 1777 /out/tmp \\
 && printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > /out/etc/passwd \\
 && printf 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n' > /out/etc/group
FROM scratch
COPY --from=deb /out /
RUN [\"/bin/busybox\", \"--install\", \"/bin\"]
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD [\"sh\"]"
build nginx "FROM $BASE
RUN $APT nginx-light && $CLEAN && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD [\"nginx\", \"-g\", \"daemon off;\"]"
build glibc-dns-testing "FROM $BASE
RUN $APT bind9-dnsutils && $CLEAN
COPY coredns /coredns"
build nonroot "FROM $BASE
USER 1234"
build nonewprivs "FROM $BASE
COPY nnp /usr/local/bin/nnp
RUN chmod +s /usr/local/bin/nnp
CMD [\"nnp\"]"
build sample-apiserver "FROM $BASE
COPY sample-apiserver /sample-apiserver
ENTRYPOINT [\"/sample-apiserver\"]"

# One tarball, rewritten only when an image changed (their IDs are kept beside it). The bundle's etcd image goes in
# too: kprov imports it on masters only, and the aggregator spec runs it as a sidecar on any node.
ETCD=$("$BIN/e2e.test" --list-images | grep '/etcd:')
docker image inspect "$ETCD" >/dev/null 2>&1 || { echo "no $ETCD image: run test/e2e/build-artifacts.sh first" >&2; exit 1; }
all=("$ETCD"); for n in "${!REF[@]}"; do for r in ${REF[$n]}; do docker image inspect "$r" >/dev/null 2>&1 && all+=("$r"); done; done
mapfile -t all < <(printf '%s\n' "${all[@]}" | sort)
ids=$(for r in "${all[@]}"; do echo "$r $(docker image inspect -f '{{.Id}}' "$r")"; done)
if [ ! -f "$TAR" ] || [ "$(cat "$TAR.ids" 2>/dev/null)" != "$ids" ]; then
  docker save -o "$TAR.tmp" "${all[@]}" && mv "$TAR.tmp" "$TAR" && echo "$ids" > "$TAR.ids"
  log "saved ${#all[@]} images in $TAR"
fi
echo "$TAR"
