#!/bin/sh
# Print the CHANGELOG.md section of one version: the lines under `## [VERSION]` up to
# the next `## ` heading, without the heading and the surrounding blank lines.
# The release workflow uses it as the GitHub release's body.
#
#   .github/release-notes.sh 0.1.0 [CHANGELOG.md]
#
# Exits 1, saying so, when the section is missing or empty: a release without notes is
# a mistake in the release commit, not something to publish.
set -eu
version=${1:?usage: release-notes.sh VERSION [CHANGELOG]}
changelog=${2:-CHANGELOG.md}
[ -r "$changelog" ] || { echo "release-notes.sh: cannot read $changelog" >&2; exit 1; }

notes=$(awk -v heading="## [$version]" '
  index($0, heading) == 1 { found = 1; next }
  found && /^## / { exit }
  found && /^\[[^]]+\]: / { next }   # link reference definitions at the end
  found { print }
' "$changelog" | sed -e '/./,$!d')   # drop leading blank lines; $(...) drops trailing ones

if [ -z "$notes" ]; then
  echo "release-notes.sh: $changelog has no section \"## [$version]\" (or it is empty)" >&2
  exit 1
fi
printf '%s\n' "$notes"
