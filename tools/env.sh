# Sourced by tools/* and tests/run: puts the dev virtualenv and this collection on the paths.
# shellcheck shell=bash
MVC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export MVC_TOP
export PATH="$MVC_TOP/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$MVC_TOP/.build/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=true
export PYTHONPATH="$MVC_TOP/.build/collections${PYTHONPATH:+:$PYTHONPATH}"
export ANSIBLE_NOCOLOR=1
