#!/bin/sh
# Stops the package's running units before its files go (the user, the
# configuration and the state stay: a reinstall goes on where it stopped).
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	for unit in $(systemctl list-units --plain --no-legend 'fedgan-cloud.service' 'fedgan-edge@*.service' 2>/dev/null | awk '{print $1}'); do
		systemctl stop "$unit" || true
	done
fi
exit 0
