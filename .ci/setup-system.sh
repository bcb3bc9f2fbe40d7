#!/bin/sh
# Install the Debian packages fastrnn needs, but only those that are missing.
# Called by `make`; safe to run repeatedly.  Needs root (or sudo) only when something
# is actually missing.
set -eu

PYTHON="${PYTHON:-python3}"
missing=""

need() {  # need PACKAGE: queue PACKAGE unless dpkg says it is installed
    if ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $1"
    fi
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup-system: not a Debian/Ubuntu system; install a C compiler, Python headers" \
         "and venv support yourself" >&2
    exit 0
fi

# a C compiler with OpenMP, make, and Python headers + venv for the interpreter we use
command -v gcc >/dev/null 2>&1 || missing="$missing gcc libc6-dev"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
if ! "$PYTHON" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    missing="$missing python3-dev"
fi
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing="$missing python3-venv"
fi
# libraries the Qt wheels link against (offscreen platform), see ../shared/GUI.md
for pkg in libgomp1 libegl1 libgl1 libfontconfig1 fonts-dejavu-core libglib2.0-0 \
           libdbus-1-3 libxkbcommon0; do
    need "$pkg"
done
# on a real display Qt uses its xcb plugin, which needs these as well
if [ "${FASTRNN_GUI_XCB:-0}" = "1" ]; then
    for pkg in libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
               libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1 libxcb-xkb1 \
               libxkbcommon-x11-0; do
        need "$pkg"
    done
fi

if [ -z "$missing" ]; then
    exit 0
fi
echo "setup-system: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
