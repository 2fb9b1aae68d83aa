#!/usr/bin/env bash
# Make a running container of the test image reachable as an operator reaches a
# hypervisor: over SSH, as an unprivileged login that may sudo.
#
#   tests/setup/container-sshd.sh CONTAINER PORT PUBLIC_KEY_FILE
#
# In CONTAINER (started with --network host, so that its sshd listens on the
# host's 127.0.0.1): a login `deploy` that accepts the key and may sudo without
# a password, a system user `nova` (home /var/lib/nova, owned by root) that the
# images can belong to, and sshd on 127.0.0.1:PORT with key authentication only.
# Returns once sshd answers. Used by tests/integration/test_ssh_become.py and
# benchmarks/fleet.py.
set -euo pipefail

container=$1
port=$2
key=$3

podman exec -i "$container" sh -c '
set -eu
useradd --create-home --shell /bin/bash deploy
usermod --password "*" deploy
useradd --system --create-home --home-dir /var/lib/nova --shell /usr/sbin/nologin nova
chown root:root /var/lib/nova
chmod 0755 /var/lib/nova
install -d -o deploy -g deploy -m 0700 /home/deploy/.ssh
cat > /home/deploy/.ssh/authorized_keys
chown deploy:deploy /home/deploy/.ssh/authorized_keys
chmod 0600 /home/deploy/.ssh/authorized_keys
echo "deploy ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/deploy
chmod 0440 /etc/sudoers.d/deploy
mkdir -p /run/sshd
ssh-keygen -A >/dev/null
' <"$key"

podman exec --detach "$container" sh -c "exec /usr/sbin/sshd -D -e -p $port -o ListenAddress=127.0.0.1 \
    -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o PermitRootLogin=no \
    -o MaxStartups=100 -o UseDNS=no 2>/var/log/sshd.log"

for _ in $(seq 1 120); do
    if exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
        banner=$(timeout 2 head -c 4 <&3 || true)
        exec 3>&-
        if [ "$banner" = "SSH-" ]; then
            exit 0
        fi
    fi
    sleep 0.5
done
echo "sshd in $container did not answer on 127.0.0.1:$port within 60 s:" >&2
podman exec "$container" cat /var/log/sshd.log >&2 || true
exit 1
