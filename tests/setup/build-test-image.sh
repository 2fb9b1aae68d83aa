#!/usr/bin/env bash
# Build the container image the molecule scenarios run their hypervisors in,
# unless an image built from this very recipe already exists.
#
# Debian bookworm minbase from debootstrap, with Python for Ansible and the
# tools the modules call, imported into podman as localhost/hypervisor-images-test:bookworm.
# No registry is needed: the packages come from the Debian mirror that this
# machine's apt sources name (or DEBIAN_MIRROR, when set).
#
# Runs as root (debootstrap needs it). Set CONTAINERS_CONF as the Makefile does.
set -euo pipefail

IMAGE=${TEST_IMAGE:-localhost/hypervisor-images-test:bookworm}
SUITE=bookworm
# openssh-server and sudo: tests/integration/test_ssh_become.py logs in over SSH and becomes root.
# No acl: that test shows what become_user needs on a host without it.
PACKAGES=python3,qemu-utils,e2fsprogs,xfsprogs,util-linux,btrfs-progs,dosfstools,openssh-server,sudo
LABEL=org.hypervisor-images.recipe

# The recipe is this script: a change to it (packages, suite) makes a new image.
recipe=$(sha256sum "$0" | cut -c1-16)

existing_recipe() {
    podman image inspect --format "{{ index .Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true
}

# The first Debian mirror in the apt sources that serves $SUITE (deb822
# .sources files and one-line .list files). Prints nothing when there is none.
apt_mirror() {
    local files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    awk -v suite="$SUITE" '
        function flush() {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && found == "") {
                split(uris, u, /[ \t]+/); found = u[1]
            }
            types = ""; suites = ""; uris = ""
        }
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[ \t]*$/) { flush(); next }
            if ($0 ~ /^[ \t]*#/) next
            if (tolower($1) == "types:") { types = substr($0, index($0, ":") + 1) }
            if (tolower($1) == "suites:") { suites = substr($0, index($0, ":") + 1); gsub(/^[ \t]+|[ \t]+$/, "", suites); gsub(/[ \t]+/, " ", suites) }
            if (tolower($1) == "uris:") { uris = substr($0, index($0, ":") + 1); gsub(/^[ \t]+/, "", uris) }
            next
        }
        FNR == 1 { flush() }
        $1 == "deb" && found == "" {
            i = 2
            if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
            if ($(i + 1) == suite) found = $i
        }
        END { flush(); if (found != "") print found }
    ' "${files[@]}"
}

if [ "$(existing_recipe)" = "$recipe" ]; then
    echo "Test image $IMAGE is up to date"
    exit 0
fi

mirror=${DEBIAN_MIRROR:-$(apt_mirror)}
if [ -z "$mirror" ]; then
    echo "No Debian mirror for $SUITE in the apt sources; set DEBIAN_MIRROR to one." >&2
    exit 1
fi
for tool in debootstrap podman; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: run make system-deps" >&2; exit 1; }
done

workdir=$(mktemp -d /var/tmp/hvimg-rootfs.XXXXXX)
trap 'rm -rf "$workdir"' EXIT

echo "Building test image $IMAGE from $mirror (debootstrap $SUITE minbase)"
start=$SECONDS
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$workdir/rootfs" "$mirror" \
    >"$workdir/debootstrap.log" 2>&1 || { tail -n 30 "$workdir/debootstrap.log" >&2; exit 1; }
# Package lists and caches are not needed inside the test containers.
rm -rf "$workdir"/rootfs/var/cache/apt/archives/*.deb "$workdir"/rootfs/var/lib/apt/lists/*
tar --numeric-owner -C "$workdir/rootfs" -c . \
    | podman import --quiet --change "LABEL $LABEL=$recipe" --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "Built $IMAGE in $((SECONDS - start)) s"
