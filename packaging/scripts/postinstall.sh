#!/bin/sh
# Both packages: the unprivileged user the services run as, its state
# folder, and the configuration folder it may read (secrets in it stay
# readable by root and the fedgan group only).
set -e
if ! getent group fedgan >/dev/null; then
	addgroup --system fedgan >/dev/null 2>&1 || groupadd --system fedgan
fi
if ! getent passwd fedgan >/dev/null; then
	adduser --system --ingroup fedgan --home /var/lib/fedgan --no-create-home \
		--shell /usr/sbin/nologin --gecos "fedgan services" fedgan >/dev/null 2>&1 ||
		useradd --system --gid fedgan --home-dir /var/lib/fedgan --shell /usr/sbin/nologin fedgan
fi
install -d -o fedgan -g fedgan -m 0750 /var/lib/fedgan
install -d -o root -g fedgan -m 0750 /etc/fedgan
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
