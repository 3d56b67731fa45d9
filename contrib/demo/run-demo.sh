#!/bin/sh
# The demo in one command: installs what it needs (Debian 12 packages),
# builds sapb1fs, generates the SAP B1-shaped sample database, and mounts
# its reports on /mnt/sapb1.  Run it from the source tree, as root:
#
#	sudo contrib/demo/run-demo.sh
#
# Running it again rebuilds what changed and remounts.  These variables
# move its pieces elsewhere (the tests use them; the defaults suit a
# newcomer): SAPB1FS_DEMO_BUILD (build dir, default <tree>/build),
# SAPB1FS_DEMO_VAR (database and state, default /var/lib/sapb1fs-demo),
# SAPB1FS_DEMO_ETC (config, default /etc/sapb1fs-demo),
# SAPB1FS_DEMO_CACHE (snapshots, default /var/cache/sapb1fs-demo),
# SAPB1FS_DEMO_MOUNT (default /mnt/sapb1), SAPB1FS_DEMO_LINES (invoice
# lines, default 100000) and SAPB1FS_DEMO_DEPS=no (skip the packages).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${SAPB1FS_DEMO_BUILD:-$top/build}
var=${SAPB1FS_DEMO_VAR:-/var/lib/sapb1fs-demo}
etc=${SAPB1FS_DEMO_ETC:-/etc/sapb1fs-demo}
cache=${SAPB1FS_DEMO_CACHE:-/var/cache/sapb1fs-demo}
mnt=${SAPB1FS_DEMO_MOUNT:-/mnt/sapb1}
lines=${SAPB1FS_DEMO_LINES:-100000}
db=$var/demo.db
conf=$etc/sapb1fs.conf

say() {
	printf 'run-demo: %s\n' "$*"
}

die() {
	printf 'run-demo: %s\n' "$*" >&2
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 ||
		die "run as root (it installs packages and mounts $mnt)"
	exec sudo -- "$0" "$@"
fi

# 1. Packages: the build tools, FUSE, unixODBC and its SQLite driver.
if [ "${SAPB1FS_DEMO_DEPS:-yes}" != no ]; then
	say "checking packages (contrib/deps.sh demo)"
	sh "$top/contrib/deps.sh" demo
fi

# 2. Build, as the owner of the source tree so build/ stays theirs.
owner=$(stat -c %U "$top")
as_owner() {
	if [ "$owner" = root ]; then
		"$@"
	else
		runuser -u "$owner" -- "$@"
	fi
}
if [ ! -f "$build/build.ninja" ]; then
	say "configuring $build"
	as_owner meson setup --buildtype=release "$build" "$top"
fi
say "building sapb1fs in $build"
as_owner ninja --quiet -C "$build" fs/sapb1fs
bin=$build/fs/sapb1fs

# 3. The database: made again only when absent or older than its generator.
mkdir -p "$var/state" "$cache" "$etc" "$mnt"
if [ ! -s "$db" ] || [ -n "$(find "$here/gen_demo.py" -newer "$db")" ]; then
	say "generating $db ($lines invoice lines)"
	/usr/bin/python3 "$here/gen_demo.py" "$db" --lines "$lines"
fi

# 4. The config, from the template.  Members of the invoking user's group
# may write query folders.
group=$(id -gn "${SUDO_USER:-root}")
sed -e "s|@REPORTS@|$here/reports|" -e "s|@STATE@|$var/state|" \
	-e "s|@MOUNT@|$mnt|" -e "s|@CACHE@|$cache|" -e "s|@DB@|$db|" \
	-e "s|@GROUP@|$group|" "$here/sapb1fs.conf.in" >"$conf.tmp"
mv "$conf.tmp" "$conf"
"$bin" --check-config "$conf" || die "the config has problems (above)"

# 5. Mount, after taking down a previous demo mount (live or dead).
if mountpoint -q "$mnt"; then
	say "unmounting the previous $mnt"
	fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" ||
		die "$mnt is busy: close what uses it, then run this again"
fi
say "mounting $mnt"
"$bin" "$mnt" -o "config=$conf,allow_other"
tries=0
until [ -e "$mnt/README.txt" ]; do
	tries=$((tries + 1))
	[ "$tries" -le 50 ] ||
		die "$mnt did not come up; see: journalctl -t sapb1fs"
	sleep 0.2
done

cat <<EOF

The demo is mounted on $mnt: reports of a made-up Turkish distributor
(SAP Business One tables in SQLite, read through ODBC), data up to
2026-12-03.  Every user on this machine can read it.  Try:

  ls $mnt/reports
  head $mnt/reports/supplier-balances/supplier-balances.csv
  cp $mnt/reports/customer-aging/customer-aging.xlsx ~/
  ls $mnt/reports/customer-statement/customer/
  cat $mnt/reports/customer-statement/customer/C20001/customer-statement.csv
  cat $mnt/.status/health.json

The report definitions are $here/reports/*.sql;
the config is $conf; the database is $db.
Unmount with:  sudo fusermount3 -u $mnt
EOF
