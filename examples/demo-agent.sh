#!/bin/sh
# A stand-in for a coding agent CLI, so agent-offload can be tried where no real agent
# is installed. It shows a few steps, a second each, so that you can watch it work in
# its pane, then follows the completion protocol a real agent is asked to follow:
# write the summary to done.md.tmp in the run directory, then rename it. It changes
# nothing.
#
# Usage (as agent-offload calls it): demo-agent.sh [--] PROMPT
# DEMO_AGENT_STEP_SECONDS sets how long each step shows (default 1; the tests use 0).
[ "$1" = "--" ] && shift
dir=${AGENT_OFFLOAD_RUN_DIR:?demo-agent: run me through agent-offload}
step_seconds=${DEMO_AGENT_STEP_SECONDS:-1}
task=$(printf '%s\n' "$1" | sed -n '1,/^---$/p' | sed '$d')

# Colour only on a terminal (in a pane), never with NO_COLOR.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  bold=$(printf '\033[1m') grey=$(printf '\033[90m') green=$(printf '\033[32m')
  cyan=$(printf '\033[36m') reset=$(printf '\033[0m')
else
  bold='' grey='' green='' cyan='' reset=''
fi

echo "${bold}demo-agent${reset} ${grey}(a stand-in for a coding agent: it changes nothing)${reset}"
echo "task: $(printf '%s\n' "$task" | head -n 1)"
echo
n=0
for step in "reading the code" "planning the change" "editing the files" "running the checks"; do
  n=$((n + 1))
  echo "${cyan}[$n/4]${reset} $step..."
  sleep "$step_seconds"
done
echo "${green}done:${reset} publishing the summary to done.md"

{
  echo "Demo summary (no real agent ran, nothing was changed)."
  echo
  echo "Task received:"
  printf '%s\n' "$task" | sed 's/^/  > /'
  echo
  echo "Checks run: none (this is the demo agent)."
} >"$dir/done.md.tmp" && mv "$dir/done.md.tmp" "$dir/done.md"
