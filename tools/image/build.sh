#!/usr/bin/env bash
# Usage: tools/image/build.sh MODEL
# Builds models/MODEL's serving image with podman and no registry: a Debian 12 base (mmdebstrap,
# python3 3.11 as the lock expects), the s2i builder of the model's framework from
# s2i/Dockerfile with wheels downloaded on this host (the builds run with --network=none), then
# the model image through the builder's own s2i/bin/assemble (s2i/Model.Containerfile).
# Each stage is reused while it is labelled with what it was built from (the base's package
# list, the builder's base image); IMAGE_DIR (default .image) holds the root file system and the
# wheels. Prints the model image's name.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $# -ne 1 ]]; then
    echo "usage: $0 MODEL" >&2
    exit 2
fi
model_dir="models/$1"
image_dir="${IMAGE_DIR:-.image}"
python="${PYTHON_BIN:-.venv/bin/python}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/tools/image/containers.conf}"

read -r framework version < <("$python" -c 'import sys; from wrappers import Manifest
m = Manifest.read(sys.argv[1]); print(m.framework, m.version)' "$model_dir")
base="localhost/modelrepo/debian-python:3.11"
builder="localhost/modelrepo/s2i-$framework:0.1.0"
image="localhost/modelrepo/$1:$version"
# curl: `podman kube play` turns an httpGet livenessProbe into a healthcheck that runs curl
# inside the container
packages="python3,python3-venv,python-is-python3,curl,libgomp1"
mkdir -p "$image_dir"

label() {
    podman image inspect --format "{{index .Labels \"$2\"}}" "$1" 2>/dev/null || true
}

if [[ "$(label "$base" modelrepo.packages)" != "$packages" ]]; then
    echo "---> Debian 12 root file system with $packages (mmdebstrap)" >&2
    mmdebstrap --quiet --variant=minbase --include="$packages" \
        --dpkgopt='path-exclude=/usr/share/{doc,man,info,locale}/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        bookworm "$image_dir/rootfs.tar" http://deb.debian.org/debian
    podman import --change 'CMD ["/bin/bash"]' --change "LABEL modelrepo.packages=$packages" \
        "$image_dir/rootfs.tar" "$base" >/dev/null
    rm -f "$image_dir/rootfs.tar"
fi

wheels="$image_dir/wheels-$framework"
base_id="$(podman image inspect --format '{{.Id}}' "$base")"
if [[ "$(label "$builder" modelrepo.base)" != "$base_id" ]]; then
    echo "---> Wheels for the $framework builder (pip download, under constraints.txt)" >&2
    "$python" -m pip download --quiet --disable-pip-version-check --constraint constraints.txt \
        --dest "$wheels" ".[$framework]" "setuptools>=68,<81" wheel
    echo "---> The s2i builder $builder" >&2
    podman build --quiet --network=none --volume "$PWD/$wheels:/wheels:ro" \
        --build-arg BASE_IMAGE="$base" --build-arg FRAMEWORK="$framework" \
        --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/wheels \
        --label modelrepo.base="$base_id" -f s2i/Dockerfile -t "$builder" . >/dev/null
fi

echo "---> The model image $image (s2i/bin/assemble)" >&2
environment=()
while IFS= read -r line; do
    [[ -z "$line" || "$line" == \#* ]] || environment+=(--env "$line")
done <"$model_dir/.s2i/environment"
podman build --quiet --network=none --build-arg BUILDER="$builder" "${environment[@]}" \
    -f s2i/Model.Containerfile -t "$image" "$model_dir" >/dev/null
echo "$image"
