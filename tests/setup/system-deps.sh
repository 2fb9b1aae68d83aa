#!/usr/bin/env bash
# Install the Debian packages that `make test` and `make demo` use, when they are missing.
# Runs as root on Debian or Ubuntu; elsewhere it names what is missing and stops.
set -euo pipefail

# command-to-check:package
REQUIRED=(
    "qemu-img:qemu-utils"
    "mkfs.ext4:e2fsprogs"
    "mkfs.xfs:xfsprogs"
    "mkfs.btrfs:btrfs-progs"
    "mkfs.vfat:dosfstools"
    "mkfs.f2fs:f2fs-tools"
    "mkfs.reiserfs:reiserfsprogs"
    "mkfs.ocfs2:ocfs2-tools"
    "mkfs.gfs2:gfs2-utils"
    "pvcreate:lvm2"
    "cryptsetup:cryptsetup-bin"
    "sfdisk:fdisk"
    "shellcheck:shellcheck"
    "blkid:util-linux"
    "losetup:mount"
    "getfattr:attr"
    "git:git"
    "ssh-keygen:openssh-client"
    "pgrep:procps"
    "sudo:sudo"
    "podman:podman"
    "runc:runc"
    "debootstrap:debootstrap"
)
PYTHON=${PYTHON:-/usr/bin/python3}

missing=()
for pair in "${REQUIRED[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=("python3-venv")
fi
if [ -n "${EXTRA_PACKAGES:-}" ]; then
    for pkg in $EXTRA_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing packages: ${missing[*]}" >&2
    echo "Install them with your package manager (as root on Debian: apt-get install ${missing[*]})." >&2
    exit 1
fi
echo "Installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
