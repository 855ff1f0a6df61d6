#!/usr/bin/env bash
# Usage: tools/k8s/build-apiserver.sh [OUT]
# Builds Kubernetes' apiextensions-apiserver (the API server of CustomResourceDefinitions, enough
# to validate a SeldonDeployment against its CRD) from Debian sid's golang-k8s-apiextensions-
# apiserver-dev and the Go sources it depends on. Nothing is installed: the .debs are downloaded
# and unpacked under .k8s/src with sid's Go compiler, then removed once the binary is built.
# Does nothing when OUT (default .k8s/bin/apiextensions-apiserver) exists. A built binary is also
# kept in MODELREPO_CACHE (default /var/cache/modelrepo) under this script's hash, as podman keeps
# its images for every clone: a fresh clone on the same machine (CI's) copies it from there.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-.k8s/bin/apiextensions-apiserver}"
if [[ -x "$out" ]]; then
    exit 0
fi
recipe="$(sha256sum tools/k8s/build-apiserver.sh | cut -c1-16)"
cached="${MODELREPO_CACHE:-/var/cache/modelrepo}/apiextensions-apiserver-$recipe"
if [[ -x "$cached" ]]; then
    install -D -m 755 "$cached" "$out"
    exit 0
fi
if [[ ! -f /etc/apt/sources.list.d/modelrepo-sid.sources ]]; then
    install -m 644 tools/k8s/sid.sources /etc/apt/sources.list.d/modelrepo-sid.sources
    install -m 644 tools/k8s/sid.pref /etc/apt/preferences.d/modelrepo-sid
    apt-get update -qq
fi
work=.k8s/src
rm -rf "$work"
mkdir -p "$work/debs" "$work/root" "$(dirname "$out")"
# the Go packages the server's sources need, as sid has them (only golang-* matter to a build
# with GOPATH: the rest are C libraries that Debian's Go packages declare)
sid=(-o APT::Default-Release=sid)
apt-cache "${sid[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances --no-pre-depends \
    golang-k8s-apiextensions-apiserver-dev golang-go |
    grep -E '^golang' | sort -u >"$work/packages"
mapfile -t packages <"$work/packages"
# as root into a directory of its own: apt's _apt user need not read it
(cd "$work/debs" && apt-get "${sid[@]}" -o APT::Sandbox::User=root download -qq "${packages[@]}")
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$work/root"
done
goroot="$(find "$work/root/usr/lib" -maxdepth 1 -name 'go-1.*' | sort -V | tail -n 1)"
env -i PATH="$PWD/$goroot/bin:/usr/bin:/bin" HOME="$PWD/$work" GOROOT="$PWD/$goroot" \
    GOPATH="$PWD/$work/root/usr/share/gocode" GO111MODULE=off CGO_ENABLED=0 \
    GOCACHE="$PWD/$work/cache" GOFLAGS=-trimpath \
    go build -o "$out.tmp" k8s.io/apiextensions-apiserver
mv "$out.tmp" "$out"
rm -rf "$work"
install -D -m 755 "$out" "$cached" 2>/dev/null || echo "not cached: $cached is not writable" >&2
