# A fake agent CLI that behaves like the real one, as measured in
# src/agents/fixtures/ (claude 2.1.197, codex 0.169.0, opencode 1.18.33, pi 0.73.1,
# gemini-cli 0.61.0, qwen-code 0.15.10; cursor-agent from its documentation): it checks
# its arguments the way the CLI would, prints the CLI's events for ITS session, publishes
# its summary where the prompt says (the harness's `publish`), and resumes a session it
# knows or fails, with the CLI's exit status and words, for one it does not.
#
# tests/integration/structured.rs puts the harness's prelude (`publish`, `$last`) and
# three assignments before this text:
#   CLI       claude, codex, opencode, pi, gemini, qwen or cursor
#   STATE     a directory of the test, for what follows
#   FIXTURES  src/agents/fixtures
# In STATE:
#   calls/argv.N  the arguments of the Nth call, a NUL after each (N counts from 0)
#   calls/id.N    the session the Nth call worked in
#   calls/out.N   everything the Nth call wrote on stdout
#   sessions      the sessions this CLI knows, one a line (headless; a TUI looks in its
#                 own store, as the real one does)
#   fail          if present, the model server rejects the credentials (the CLI's
#                 *-error.jsonl, with its exit status)
#   inject        if present, lines written right after the first event
#   block         if present, after the first event wait until `release` exists (the
#                 model taking its time)
#   forget        if present, the agent answers but forgets to publish its summary
#   linger        if present, a child a tool started (a dev server) runs `sleep` with
#                 the file's content as its argument, holding the CLI's stdout open
#                 after the CLI exits
# codex and pi without their headless words (`exec`, `-p`) are TUIs: they write their
# session store (where agent-offload looks for the session of a pane), publish and stay
# open.

set -u
mkdir -p "$STATE/calls"
n=0
while [ -e "$STATE/calls/argv.$n" ]; do n=$((n + 1)); done
for a in "$@"; do printf '%s\0' "$a"; done >"$STATE/calls/argv.$n"
rec="$STATE/calls/out.$n"
: >"$rec"

die() {
  code=$1
  shift
  printf '%s\n' "$*" >&2
  exit "$code"
}
known() { [ -f "$STATE/sessions" ] && grep -qxF -- "$1" "$STATE/sessions"; }
remember() { printf '%s\n' "$1" >>"$STATE/sessions"; }
hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
new_uuid() {
  h=$(hex)
  printf '%s-%s-4%s-a%s-%s\n' "$(printf %s "$h" | cut -c1-8)" "$(printf %s "$h" | cut -c9-12)" \
    "$(printf %s "$h" | cut -c14-16)" "$(printf %s "$h" | cut -c18-20)" "$(printf %s "$h" | cut -c21-32)"
}
is_uuid() {
  printf '%s\n' "$1" | grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
}
# Waits for the file $1, at most $2 tenths of a second: a test whose gate never opens
# fails instead of hanging.
wait_for() {
  i=0
  while [ ! -e "$1" ] && [ "$i" -lt "$2" ]; do
    i=$((i + 1))
    sleep 0.1
  done
}
# The prompt as a JSON string's contents.
json_text() {
  printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | awk 'BEGIN { ORS = "" } NR > 1 { print "\\n" } { print }'
}
set_prompt() {
  [ -z "$prompt" ] || die "$usage_status" "error: unexpected argument '$1' found"
  prompt=$1
}

prompt=
resume=
assign=
fmt=
verbose=
print=
sub=
slow=
usage_status=1

case $CLI in
claude | cursor)
  while [ $# -gt 0 ]; do
    case $1 in
    -p | --print) print=1 ;;
    --output-format) fmt=${2-} && shift ;;
    --output-format=*) fmt=${1#*=} ;;
    --verbose) verbose=1 ;;
    --resume | -r) resume=${2-} && shift ;;
    --session-id)
      [ "$CLI" = claude ] || die 1 "error: unknown option '$1'"
      assign=${2-} && shift
      ;;
    --dangerously-skip-permissions) [ "$CLI" = claude ] || die 1 "error: unknown option '$1'" ;;
    --force) [ "$CLI" = cursor ] || die 1 "error: unknown option '$1'" ;;
    --)
      [ "$CLI" = claude ] || die 1 "error: unknown option '$1'"
      shift
      [ $# -eq 1 ] || die 1 "error: expected one prompt after --, got $#"
      set_prompt "$1"
      ;;
    -*) die 1 "error: unknown option '$1'" ;;
    *) set_prompt "$1" ;;
    esac
    shift
  done
  [ -n "$print" ] || die 1 "fake $CLI: no -p, this would open the TUI"
  [ -n "$prompt" ] || die 1 "Error: Input must be provided either through stdin or as a prompt argument when using --print"
  if [ "$fmt" = stream-json ] && [ -z "$verbose" ] && [ "$CLI" = claude ]; then
    die 1 "Error: When using --print, --output-format=stream-json requires --verbose"
  fi
  if [ -n "$assign" ] && [ -n "$resume" ]; then
    die 1 "Error: --session-id can only be used with --continue or --resume if --fork-session is also specified."
  fi
  ;;
codex)
  usage_status=2
  # Global flags, then the `exec` subcommand (or none: the TUI).
  while [ $# -gt 0 ]; do
    case $1 in
    --dangerously-bypass-approvals-and-sandbox | --no-daemon) ;;
    -- | exec) break ;;
    -*) die 2 "error: unexpected argument '$1' found" ;;
    *) break ;;
    esac
    shift
  done
  if [ "${1-}" = exec ]; then
    shift
    json=
    while [ $# -gt 0 ]; do
      case $1 in
      --json) json=1 ;;
      --dangerously-bypass-approvals-and-sandbox | --skip-git-repo-check) ;;
      -C | --cd)
        [ -z "$sub" ] || die 2 "error: unexpected argument '$1' found"
        shift
        ;;
      --)
        shift
        [ $# -eq 1 ] || die 2 "error: expected one prompt after --, got $#"
        set_prompt "$1"
        ;;
      -*) die 2 "error: unexpected argument '$1' found" ;;
      resume)
        if [ -z "$sub" ] && [ -z "$prompt" ]; then sub=resume; else set_prompt "$1"; fi
        ;;
      *)
        if [ "$sub" = resume ] && [ -z "$resume" ]; then resume=$1; else set_prompt "$1"; fi
        ;;
      esac
      shift
    done
    [ -n "$json" ] || die 1 "fake codex: exec without --json"
    [ -n "$prompt" ] || die 1 "fake codex: no prompt"
    print=1
    # Even with stdin at /dev/null (measured).
    echo 'Reading additional input from stdin...' >&2
  else
    # The TUI: `codex [flags] [resume ID] [--] PROMPT`.
    while [ $# -gt 0 ]; do
      case $1 in
      --dangerously-bypass-approvals-and-sandbox | --no-daemon) ;;
      --)
        shift
        [ $# -eq 1 ] || die 2 "error: expected one prompt after --, got $#"
        set_prompt "$1"
        ;;
      -*) die 2 "error: unexpected argument '$1' found" ;;
      resume)
        if [ -z "$sub" ] && [ -z "$prompt" ]; then sub=resume; else set_prompt "$1"; fi
        ;;
      *)
        if [ "$sub" = resume ] && [ -z "$resume" ]; then resume=$1; else set_prompt "$1"; fi
        ;;
      esac
      shift
    done
  fi
  ;;
opencode)
  [ "${1-}" = run ] || die 1 "fake opencode: only \`opencode run\` is faked"
  shift
  while [ $# -gt 0 ]; do
    case $1 in
    --format) fmt=${2-} && shift ;;
    --format=*) fmt=${1#*=} ;;
    --session | -s) resume=${2-} && shift ;;
    --model | -m) shift ;;
    --) ;;
    -*) die 1 "error: unknown option '$1'" ;;
    *) set_prompt "$1" ;;
    esac
    shift
  done
  [ "$fmt" = json ] || die 1 "fake opencode: run without --format json"
  [ -n "$prompt" ] || die 1 "You must provide a message or a command"
  print=1
  ;;
pi)
  while [ $# -gt 0 ]; do
    case $1 in
    -p | --print) print=1 ;;
    --mode) fmt=${2-} && shift ;;
    --session) resume=${2-} && shift ;;
    --model | --provider) shift ;;
    -*) die 1 "Unknown option: $1" ;;
    *) set_prompt "$1" ;;
    esac
    shift
  done
  [ -n "$prompt" ] || die 1 "fake pi: no prompt"
  [ -z "$print" ] || [ "$fmt" = json ] || die 1 "fake pi: -p without --mode json"
  ;;
gemini | qwen)
  while [ $# -gt 0 ]; do
    case $1 in
    -o | --output-format) fmt=${2-} && shift ;;
    --output-format=*) fmt=${1#*=} ;;
    --session-id) assign=${2-} && shift ;;
    --resume | -r) resume=${2-} && shift ;;
    --yolo | -y) ;;
    -p | --prompt)
      [ "$CLI" = gemini ] || die 1 "fake qwen: the prompt is positional"
      set_prompt "${2-}" && shift
      ;;
    -*) die 1 "Unknown argument: $1" ;;
    *)
      [ "$CLI" = qwen ] || die 1 "fake gemini: the headless prompt goes after -p"
      set_prompt "$1"
      ;;
    esac
    shift
  done
  [ -n "$prompt" ] || die 1 "fake $CLI: no prompt (this would open the TUI)"
  print=1
  ;;
*) die 1 "fake: unknown CLI $CLI" ;;
esac

# --- the TUIs: codex and pi in a pane, with their session stores ---------------------
if [ -z "$print" ]; then
  case $CLI in
  codex)
    store="${CODEX_HOME:-$HOME/.codex}/sessions"
    if [ -n "$resume" ]; then
      file=$(find "$store" -name "rollout-*-$resume.jsonl" 2>/dev/null | head -n 1)
      [ -n "$file" ] || die 1 "ERROR: No saved session found with ID $resume. Run \`codex resume\` without an ID to choose from existing sessions."
      id=$resume
    else
      id=$(new_uuid)
      file="$store/$(date -u +%Y/%m/%d)/rollout-$(date -u +%Y-%m-%dT%H-%M-%S)-$id.jsonl"
      mkdir -p "$(dirname "$file")"
      printf '{"type":"session_meta","payload":{"id":"%s","cwd":"%s","originator":"codex-tui"}}\n' \
        "$id" "$(pwd -P)" >"$file"
    fi
    printf '{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"%s"}]}}\n' \
      "$(json_text "$prompt")" >>"$file"
    ;;
  pi)
    dir="${PI_CODING_AGENT_DIR:-$HOME/.pi/agent}/sessions/--$(pwd -P | sed 's#^/##; s#/#-#g')--"
    if [ -n "$resume" ]; then
      file=$(find "$dir" -name "*_$resume.jsonl" 2>/dev/null | head -n 1)
      [ -n "$file" ] || die 1 "No session found matching '$resume'"
      id=$resume
    else
      id=$(new_uuid)
      file="$dir/$(date -u +%Y-%m-%dT%H-%M-%S)-000Z_$id.jsonl"
      mkdir -p "$dir"
      printf '{"type":"session","version":3,"id":"%s","timestamp":"%s","cwd":"%s"}\n' \
        "$id" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$(pwd -P)" >"$file"
    fi
    printf '{"type":"message","message":{"role":"user","content":[{"type":"text","text":"%s"}]}}\n' \
      "$(json_text "$prompt")" >>"$file"
    ;;
  *) die 1 "fake $CLI: no TUI" ;;
  esac
  printf '%s\n' "$id" >"$STATE/calls/id.$n"
  publish "summary from the $CLI TUI, call $n"
  # A TUI stays open at its prompt: the run ends on the summary, and closes the pane.
  exec sleep 3600
fi

# --- headless: the session, then the events -----------------------------------------
id=
if [ -n "$resume" ]; then
  case $CLI in
  claude)
    if ! known "$resume"; then
      # Measured: a result event with a fresh random session id, exit 1.
      printf '{"type":"result","subtype":"error_during_execution","duration_ms":0,"is_error":true,"num_turns":0,"session_id":"%s","errors":["No conversation found with session ID: %s"]}\n' \
        "$(new_uuid)" "$resume" | tee -a "$rec"
      die 1 "No conversation found with session ID: $resume"
    fi
    ;;
  codex)
    if ! is_uuid "$resume"; then
      # Measured: a name that matches no thread starts a NEW thread, silently, exit 0.
      resume=
      slow=1
    elif ! known "$resume"; then
      die 1 "Error: thread/resume: thread/resume failed: no rollout found for thread id $resume (code -32600)"
    fi
    ;;
  opencode) known "$resume" || die 1 "Error: Session not found" ;;
  pi) known "$resume" || die 1 "No session found matching '$resume'" ;;
  gemini)
    known "$resume" || die 42 "Error resuming session: Invalid session identifier \"$resume\".
  Searched for sessions in $HOME/.gemini/tmp/work/chats.
  Use --list-sessions to see the available sessions."
    ;;
  qwen) known "$resume" || die 1 "No saved session found with ID $resume. Run \`qwen --resume\` without an ID to choose from existing sessions." ;;
  cursor) known "$resume" || die 1 "Error: session not found: $resume" ;;
  esac
  id=$resume
elif [ -n "$assign" ]; then
  if known "$assign"; then
    case $CLI in
    claude) die 1 "Error: Session ID $assign is already in use." ;;
    gemini) die 42 "Error starting session: Session ID \"$assign\" already exists. Use --resume to resume it, or provide a different ID." ;;
    qwen) die 1 "Error: Session Id $assign is already in use." ;;
    esac
  fi
  id=$assign
fi
if [ -z "$id" ]; then
  case $CLI in
  opencode) id="ses_$(hex | cut -c1-26)" ;;
  *) id=$(new_uuid) ;;
  esac
fi
[ -n "$resume" ] || remember "$id"
printf '%s\n' "$id" >"$STATE/calls/id.$n"

variant=headless
[ -z "$resume" ] || variant=resume
[ ! -f "$STATE/fail" ] || variant=error
file="$CLI-$variant.jsonl"
case $CLI-$variant in
claude-error) fixture_id=ffa1dca7-051e-4a3e-8c57-da2766df13a1 ;;
claude-*) fixture_id=aefe45d6-8698-4540-89f6-2ca904e7358a ;;
codex-error) fixture_id=01a22e47-4993-7462-afc8-ad8e522561e3 ;;
codex-*) fixture_id=01a22e46-f85b-7da2-8cf2-c20673f29be3 ;;
opencode-error) fixture_id=ses_dd1b709daffeRMWwIhqYV1vT8Q ;;
opencode-*) fixture_id=ses_dd1b7b728ffe1y09rcNdGSpgaf ;;
pi-error) fixture_id=01a22e4c-dfbb-7098-92e9-951074032f50 ;;
pi-*) fixture_id=01a22e4c-9011-73df-bf4b-51f4b8bca3bf ;;
gemini-error) fixture_id=09e23ef5-a45a-4f30-ac7d-6a8166865b02 ;;
gemini-*) fixture_id=b77507ab-fb8e-4bb7-b767-39204f834f83 ;;
qwen-error) fixture_id=613fd17d-df68-4d27-954f-e3009cff68a3 ;;
qwen-*) fixture_id=1af93d76-bfcf-4f8e-ac0b-e5cbe582e935 ;;
cursor-error) die 1 "fake cursor: no error stream measured" ;;
cursor-*)
  file=cursor-documented.jsonl
  fixture_id=c6b62c6f-7ead-4fd6-9922-e952131177ff
  ;;
esac
[ "$CLI" != gemini ] || echo 'YOLO mode is enabled. All tool calls will be automatically approved.' >&2

# opencode `run` auto-rejects a tool call outside its working directory unless
# external_directory allows it (measured), and still exits 0.
if [ "$CLI" = opencode ]; then
  case ${OPENCODE_PERMISSION-} in
  *"\"$AGENT_OFFLOAD_RUN_DIR/**\":\"allow\""*) ;;
  *)
    echo "! permission requested: external_directory ($AGENT_OFFLOAD_RUN_DIR/*); auto-rejecting" >&2
    variant=rejected
    ;;
  esac
fi

events="$STATE/calls/events.$n"
sed "s/$fixture_id/$id/g" "$FIXTURES/$file" >"$events"
lines=$(wc -l <"$events" | tr -d ' ')
# The summary is published where the CLI ran its tool: after the first event that
# names done.md (at the end for a stream without one).
at=$(grep -n "done\.md'" "$events" | head -n 1 | cut -d: -f1)
[ -n "$at" ] || at=$lines
show() { sed -n "$1,$2p" "$events" | tee -a "$rec"; }

show 1 1
if [ -f "$STATE/linger" ]; then sleep "$(cat "$STATE/linger")" & fi
[ ! -f "$STATE/inject" ] || tee -a "$rec" <"$STATE/inject"
if [ -f "$STATE/block" ]; then
  wait_for "$STATE/release" 600
elif [ -n "$slow" ]; then
  # The model's first answer: long enough for anyone watching to stop a new thread
  # nobody asked for (nothing ever creates `release` then).
  wait_for "$STATE/release" 150
fi
[ "$at" -lt 2 ] || show 2 "$at"
case $variant in
headless | resume) [ -f "$STATE/forget" ] || publish "summary from $CLI, call $n" ;;
esac
[ "$at" -ge "$lines" ] || show $((at + 1)) "$lines"

if [ "$variant" = error ]; then
  case $CLI in
  claude | codex | opencode) exit 1 ;;
  gemini) exit 145 ;;
  pi | qwen) exit 0 ;;
  esac
fi
exit 0
