#!/bin/sh
# Install agent-offload without root.
#
# A release binary is downloaded when one exists for this platform and its SHA-256
# checksum matches; otherwise agent-offload is built from source with cargo (from this
# checkout when the script is run from one, else from the git repository).
#
#   sh install.sh                      # into ~/.local/bin
#   AGENT_OFFLOAD_INSTALL_DIR=~/bin sh install.sh
#
# Variables:
#   AGENT_OFFLOAD_INSTALL_DIR   where the binary goes (default: ~/.local/bin)
#   AGENT_OFFLOAD_VERSION       release to install, e.g. 0.1.0 (default: the checkout's
#                               version when run from a checkout, else "latest")
#   AGENT_OFFLOAD_REPO          the project's home; release assets are expected at
#                               $AGENT_OFFLOAD_REPO/releases/download/vX.Y.Z/agent-offload-<target>.tar.gz
#                               (+ .sha256). The forge is not decided yet: the default
#                               is a placeholder, and while it is, no download is tried.
#   AGENT_OFFLOAD_FROM_SOURCE=1 skip the release download, always build with cargo
#   AGENT_OFFLOAD_CARGO_ARGS    extra words for `cargo install`, e.g. "--debug" for a
#                               quick unoptimised build (the test suite uses it with
#                               CARGO_TARGET_DIR to reuse the build it has just made)
#   CARGO_TARGET_DIR            honoured by cargo, to reuse an existing build
set -eu

REPO_PLACEHOLDER="https://github.com/agent-offload/agent-offload"
repo=${AGENT_OFFLOAD_REPO:-$REPO_PLACEHOLDER}
install_dir=${AGENT_OFFLOAD_INSTALL_DIR:-${HOME:?HOME is not set}/.local/bin}

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The directory this script is in, when it is a checkout of agent-offload.
checkout=""
case $0 in
*/*) script_dir=$(cd "${0%/*}" && pwd) ;;
*) script_dir=$(pwd) ;;
esac
if [ -f "$script_dir/Cargo.toml" ] && grep -q '^name = "agent-offload"' "$script_dir/Cargo.toml"; then
  checkout=$script_dir
fi

if [ -n "${AGENT_OFFLOAD_VERSION:-}" ]; then
  version=$AGENT_OFFLOAD_VERSION
elif [ -n "$checkout" ]; then
  version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$checkout/Cargo.toml" | head -n 1)
else
  version=latest
fi

target_triple() {
  os=$(uname -s)
  arch=$(uname -m)
  case $arch in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) return 1 ;;
  esac
  case $os in
  Linux) printf '%s-unknown-linux-musl\n' "$arch" ;;
  Darwin) printf '%s-apple-darwin\n' "$arch" ;;
  *) return 1 ;;
  esac
}

fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    # https only; file: lets a release mirror on disk (and the tests) stand in.
    curl --proto '=https,file' --tlsv1.2 -fsSL -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    case $1 in https://*) ;; *) return 1 ;; esac
    wget -q -O "$2" "$1"
  else
    return 1
  fi
}

sha256_of() { # FILE
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    die "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/agent-offload-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sets $binary to a downloaded, verified binary; returns 1 when there is no release
# for this platform (or no way to download). A checksum mismatch is fatal.
try_release() {
  if [ "$repo" = "$REPO_PLACEHOLDER" ]; then
    why="no release location is configured yet"
    return 1
  fi
  triple=$(target_triple) || { why="no release binaries for $(uname -s) $(uname -m)"; return 1; }
  asset="agent-offload-$triple.tar.gz"
  if [ "$version" = latest ]; then
    url="$repo/releases/latest/download/$asset"
  else
    url="$repo/releases/download/v$version/$asset"
  fi
  say "downloading $url"
  fetch "$url" "$tmp/$asset" || { why="none at $url"; return 1; }
  fetch "$url.sha256" "$tmp/$asset.sha256" || die "the release has no checksum file at $url.sha256: refusing to install it"
  expected=$(cut -d ' ' -f 1 <"$tmp/$asset.sha256")
  actual=$(sha256_of "$tmp/$asset")
  [ "$expected" = "$actual" ] || die "checksum mismatch for $asset (expected $expected, got $actual): not installing it"
  say "checksum verified ($actual)"
  tar -xzf "$tmp/$asset" -C "$tmp"
  binary=$(find "$tmp" -type f -name agent-offload | head -n 1)
  [ -n "$binary" ] || die "$asset does not contain an agent-offload binary"
}

# cargo's own progress is shown (a release build takes minutes on a small machine);
# cargo installs into a temporary root, put on PATH only so that cargo does not advise
# adding that directory to PATH.
build_from_source() {
  command -v cargo >/dev/null 2>&1 || die "cargo is not installed: get Rust from https://rustup.rs, then run this again"
  if [ -n "$checkout" ]; then
    say "${why:+no release binary to download ($why): }building from source in $checkout with cargo install --locked --path (minutes for an optimised build; cargo's progress follows)"
    # shellcheck disable=SC2086 # the extra arguments are words
    PATH="$tmp/root/bin:$PATH" cargo install --locked ${AGENT_OFFLOAD_CARGO_ARGS:-} --path "$checkout" --root "$tmp/root"
  else
    [ "$repo" != "$REPO_PLACEHOLDER" ] || die "not run from a checkout, and AGENT_OFFLOAD_REPO is not set: nothing to build from"
    say "${why:+no release binary to download ($why): }building from source with cargo install --locked --git $repo (minutes for an optimised build; cargo's progress follows)"
    # shellcheck disable=SC2086 # the extra arguments are words
    PATH="$tmp/root/bin:$PATH" cargo install --locked ${AGENT_OFFLOAD_CARGO_ARGS:-} --git "$repo" --root "$tmp/root" agent-offload
  fi
  binary=$tmp/root/bin/agent-offload
}

# Names every other agent-offload on PATH and which one runs: two copies (this one and
# a `cargo install` in ~/.cargo/bin, say) drift apart without anyone noticing.
other_copies() {
  here=$(cd "$install_dir" && pwd -P)
  ours_seen=0
  others=0
  old_ifs=$IFS
  IFS=:
  set -f
  # shellcheck disable=SC2086 # split on ':' on purpose, globbing off
  set -- ${PATH:-}
  set +f
  IFS=$old_ifs
  for d in "$@"; do
    if [ -z "$d" ] || [ ! -x "$d/agent-offload" ] || [ -d "$d/agent-offload" ]; then
      continue
    fi
    real=$(cd "$d" 2>/dev/null && pwd -P) || continue
    if [ "$real" = "$here" ]; then
      ours_seen=1
      continue
    fi
    other="$d/agent-offload ($("$d/agent-offload" --version 2>/dev/null || echo "its version unknown"))"
    others=1
    if [ "$ours_seen" = 0 ]; then
      say "warning: $other comes first on your PATH: \`agent-offload\` runs it, not the copy just installed"
      ours_seen=shadowed
    else
      say "another agent-offload is on your PATH: $other"
    fi
  done
  if [ "$others" = 1 ]; then
    say "keep one copy: remove the others (cargo uninstall agent-offload, for one in ~/.cargo/bin), or set AGENT_OFFLOAD_INSTALL_DIR to where your copy is and run this again"
  fi
}

binary=""
why=""
if [ "${AGENT_OFFLOAD_FROM_SOURCE:-0}" = 1 ] || ! try_release; then
  build_from_source
fi

mkdir -p "$install_dir" || die "cannot create $install_dir (set AGENT_OFFLOAD_INSTALL_DIR to a directory you can write)"
# Copy then rename: a running agent-offload is never overwritten in place.
cp "$binary" "$install_dir/.agent-offload.new.$$"
chmod 755 "$install_dir/.agent-offload.new.$$"
mv -f "$install_dir/.agent-offload.new.$$" "$install_dir/agent-offload"

installed=$("$install_dir/agent-offload" --version) || die "$install_dir/agent-offload does not run"
say "installed $installed to $install_dir/agent-offload"
case ":${PATH:-}:" in
*":$install_dir:"*) ;;
*) say "$install_dir is not on your PATH; add it, e.g. export PATH=\"$install_dir:\$PATH\"" ;;
esac
other_copies
say "next: agent-offload doctor"
