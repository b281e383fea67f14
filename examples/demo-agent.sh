#!/bin/sh
# A stand-in for a coding agent CLI, so agent-offload can be tried where no real agent
# is installed. It follows the same completion protocol a real agent is asked to
# follow: write the summary to done.md.tmp in the run directory, then rename it.
#
# Usage (as agent-offload calls it): demo-agent.sh [--] PROMPT
[ "$1" = "--" ] && shift
task=$(printf '%s\n' "$1" | sed -n '1,/^---$/p' | sed '$d')
echo "demo-agent: working on: $(printf '%s' "$task" | head -n 1)"
for step in reading planning editing checking; do
  echo "demo-agent: $step..."
  sleep 0.3
done
dir=${AGENT_OFFLOAD_RUN_DIR:?demo-agent: run me through agent-offload}
{
  echo "Demo summary (no real agent ran, nothing was changed)."
  echo
  echo "Task received:"
  printf '%s\n' "$task" | sed 's/^/  > /'
  echo
  echo "Checks run: none (this is the demo agent)."
} >"$dir/done.md.tmp" && mv "$dir/done.md.tmp" "$dir/done.md"
