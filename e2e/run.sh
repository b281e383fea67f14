#!/usr/bin/env bash
# End-to-end tests against the real agent CLIs.
#
# Installs the agent CLIs pinned in e2e/package.json (exact versions; every transitive
# dependency pinned by e2e/package-lock.json) into a cache outside the repository,
# then runs the real_agents test target, which points each CLI at a scripted model
# server on 127.0.0.1. No model provider or other network is used; npm needs its
# registry for the first install only.
#
#   e2e/run.sh                 # install if needed, run the whole suite
#   e2e/run.sh claude::        # extra arguments go to the test binary (a filter, ...)
#
# The cache is ${AGENT_OFFLOAD_E2E_CACHE:-~/.cache/agent-offload-e2e}; it is reinstalled
# whenever the pins or node's version change. A missing npm, node, tmux or registry is
# an error, never a skip.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

cache="${AGENT_OFFLOAD_E2E_CACHE:-$HOME/.cache/agent-offload-e2e}"
agents="$cache/agents"

for tool in node npm tmux git; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "e2e: '$tool' is required and not on PATH" >&2
    exit 1
  fi
done

# One install at a time per cache (two checkouts may share it).
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

# What is installed is identified by the pins, this script and the node version.
want="$(cat e2e/package.json e2e/package-lock.json e2e/run.sh | sha256sum | cut -d' ' -f1) node $(node --version)"
have="$(cat "$agents/.installed" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  echo "e2e: installing the pinned agent CLIs into $agents" >&2
  start=$(date +%s)
  rm -rf "$agents"
  mkdir -p "$agents"
  cp e2e/package.json e2e/package-lock.json "$agents/"
  # `npm install` with the lock file in place installs exactly the locked versions.
  # Not `npm ci`: npm 11 leaves the other platforms' optional packages (opencode-darwin-*,
  # ...) out of the lock file it writes, and `npm ci` then refuses that lock file as out
  # of sync. --no-save keeps the lock file as it is.
  # --ignore-scripts, then only the two install scripts the CLIs need: claude's and
  # opencode's copy their platform's native binary (from an optional package) over a
  # placeholder. Others would compile native modules (node-pty) for nothing.
  # Short retries and an overall bound: with the registry unreachable, npm's defaults
  # were still retrying after 5 minutes (4 with 2 retries); with these it fails in 23 s.
  (cd "$agents" && timeout 1200 npm install --no-save --ignore-scripts --no-audit --no-fund \
    --loglevel=warn --fetch-retries=1 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000)
  (cd "$agents/node_modules/@anthropic-ai/claude-code" && node install.cjs)
  (cd "$agents/node_modules/opencode-ai" && node postinstall.mjs)
  echo "$want" >"$agents/.installed"
  echo "e2e: installed in $(($(date +%s) - start)) s" >&2
else
  echo "e2e: the pinned agent CLIs are installed in $agents" >&2
fi

export AGENT_OFFLOAD_E2E_CACHE="$cache"
exec cargo test --locked --test real_agents -- --test-threads=2 "$@"
