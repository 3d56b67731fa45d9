#!/bin/sh
# Installs what sapb1fs needs to build, run its demo and run its tests, from
# Debian 12's own packages.  Idempotent; used by both README commands.
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (it calls apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Build tools and the libraries of every part.
build="meson ninja-build pkg-config gcc clang libclang-rt-14-dev clang-format
 libfuse3-dev fuse3 libinih-dev unixodbc-dev unixodbc libpq-dev
 libxlsxwriter-dev libcurl4-openssl-dev libcjson-dev libsmbclient-dev
 libhiredis-dev libsystemd-dev scdoc"
# The demo reads SQLite through unixODBC, as production reads HANA.
demo="libsqliteodbc sqlite3 python3"
# Real servers and readers the tests start on loopback.
tests="postgresql odbc-postgresql redis-server samba smbclient smbnetfs
 python3-aiosmtpd python3-openpyxl python3-pytest python3-croniter msmtp
 rsync valgrind openssl attr util-linux procps psmisc vim nano
 libglib2.0-bin"
# LibreOffice reads the rendered XLSX and CSV back; GNU time measures RSS.
tests="$tests libreoffice-calc-nogui time"
# The Service Layer benchmark compares with curl downloading the pages.
tests="$tests curl"
# tests/mount: systemd-analyze and systemd-tmpfiles check the units,
# man -l renders the man pages.
tests="$tests systemd man-db"
case "${1:-all}" in
demo) pkgs="$build $demo" ;;
*) pkgs="$build $demo $tests" ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
