#!/bin/sh
# Install the Debian packages that building, testing and the demo need.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu

PACKAGES="build-essential meson ninja-build pkg-config git \
libgit2-dev libyaml-dev libarchive-dev libpcre2-dev libcurl4-openssl-dev \
libsqlite3-dev libssl-dev libcmocka-dev bats jq sqlite3 zstd tar \
gnupg openssh-client openssl procps bubblewrap util-linux passwd gitolite3 \
clang libclang-rt-14-dev man-db groff-base systemd \
libmicrohttpd-dev chromium python3-prometheus-client iproute2 bc \
libpq-dev libpq5 postgresql libseccomp-dev openssh-server nginx fcgiwrap \
strace cppcheck python3-securesystemslib"

missing=
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
# the browser tests take axe-core from the npm registry: Debian's npm, unless
# the machine's Node.js brings its own
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "missing Debian packages; install them with:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
