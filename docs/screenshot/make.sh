#!/bin/sh
# Regenerates docs/screenshot.png, the picture at the top of the README: a real run of
# the quick start's demo in a private tmux server, drawn by docs/screenshot/screenshot.py.
#
#   docs/screenshot/make.sh [--font PATH] [--bold-font PATH] [--font-size N] [--out PATH]
#
# Needs tmux, python3 (with venv) and cargo. pyte and Pillow are installed, at the
# versions below, into a virtual environment under
# ${XDG_CACHE_HOME:-~/.cache}/agent-offload-screenshot on first use.
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/agent-offload-screenshot
requirements='pyte==0.8.2 Pillow==13.0.0'

for tool in tmux python3 cargo; do
  command -v "$tool" >/dev/null || { echo "make.sh: $tool is not on PATH" >&2; exit 1; }
done

if [ "$(cat "$cache/requirements" 2>/dev/null)" != "$requirements" ]; then
  rm -rf "$cache/venv"
  python3 -m venv "$cache/venv"
  # shellcheck disable=SC2086 # one word per requirement
  "$cache/venv/bin/pip" install --quiet --disable-pip-version-check $requirements
  printf '%s\n' "$requirements" >"$cache/requirements"
fi

(cd "$repo" && cargo build --quiet --locked)
target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
  "$cache/venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

exec "$cache/venv/bin/python" -B "$repo/docs/screenshot/screenshot.py" \
  --bin "$target/debug/agent-offload" --repo "$repo" --out "$repo/docs/screenshot.png" "$@"
