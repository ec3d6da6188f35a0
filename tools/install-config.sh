#!/bin/sh
# Installs the default configuration only when the destination does not exist yet: an administrator's edited
# /etc/tierd.conf must survive reinstalls and upgrades.
set -eu
src="$1"
dest="${DESTDIR:-}$2"
case "$2" in /*) ;; *) dest="${DESTDIR:-}${MESON_INSTALL_PREFIX}/$2" ;; esac
if [ -e "$dest" ]; then
        echo "Keeping existing $dest"
        exit 0
fi
mkdir -p "$(dirname "$dest")"
install -m 0644 "$src" "$dest"
echo "Installed $dest"
