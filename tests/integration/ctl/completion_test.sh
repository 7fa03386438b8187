#!/usr/bin/env bash
# ctl_completion: pktpoolctl's bash completion (client/pktpoolctl/completion/pktpoolctl.bash)
# driven the way bash drives it, on a live daemon.
#
#   completion_test.sh --daemon PKTPOOLD --ctl PKTPOOLCTL --script pktpoolctl.bash
#
# pktpoold runs in a network namespace of this test's own (pktpool-compl-PID) holding a
# veth pair, cmpl0 and cmpl1, with its socket in a temporary directory; it binds cmpl0.
# Every completion runs in a fresh non-interactive bash inside that namespace (so
# /sys/class/net is the namespace's: lo, cmpl0, cmpl1): it sources bash-completion and
# the script, sets COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT as readline would
# for a line with the cursor at its end, calls the function `complete -p pktpoolctl`
# names and prints COMPREPLY. Anything the function writes to stdout or stderr fails.
#
# Checked: the commands; every command's options against its --help (both ways:
# nothing missing, nothing stale), and the global ones; every {a,b} value list the help
# shows (-o, --direction, --format, tune's pools); interfaces from the daemon's bindings
# (--socket, --socket=, PKTPOOL_SOCKET, the command line winning over the environment,
# a binding made while the test runs); the host's interfaces for bind; file names; and
# with no daemon answering (no socket; a socket nobody accepts on) completion is empty,
# silent and returns within 1.5 s.
#
# Needs root (namespace, veth, capture): exits 77 (skip) without it, or 1 when CI is
# set. Traffic: none. Only the namespace made here is touched; the trap stops the
# daemon it started and deletes the namespace on every exit.
set -uo pipefail

usage() {
  echo "usage: $0 --daemon PKTPOOLD --ctl PKTPOOLCTL --script COMPLETION.bash" >&2
  exit 2
}
daemon="" ctl="" script="" bash_completion=/usr/share/bash-completion/bash_completion
while (($# > 0)); do
  case $1 in
    --daemon) daemon=${2-} ;;
    --ctl) ctl=${2-} ;;
    --script) script=${2-} ;;
    --bash-completion) bash_completion=${2-} ;;
    *) usage ;;
  esac
  shift 2 || usage
done
[[ -n $daemon && -n $ctl && -n $script ]] || usage

# A missing prerequisite: a skip, a failure under CI.
skip() {
  if [[ -n ${CI-} ]]; then
    echo "FAIL: $1 (CI is set: not skipping)" >&2
    exit 1
  fi
  echo "SKIP: $1" >&2
  exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root: a network namespace, a veth pair and a daemon capturing on it"
[[ -r $bash_completion ]] || skip "bash-completion is not installed ($bash_completion)"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
command -v python3 >/dev/null || skip "python3 is not installed (it plays a socket that never answers)"
command -v timeout >/dev/null || skip "timeout (coreutils) is not installed"
for file in "$daemon" "$ctl"; do
  [[ -x $file ]] || { echo "FAIL: $file is not an executable" >&2; exit 1; }
done
[[ -r $script ]] || { echo "FAIL: $script is not readable" >&2; exit 1; }
ctl=$(realpath "$ctl")
script=$(realpath "$script")

ns=pktpool-compl-$$
ns_created=""
daemon_pid=""
hang_pid=""
tmp=$(mktemp -d /tmp/pktpool-completion.XXXXXX)
socket=$tmp/pktpoold.sock

# Ends only what this script started: the daemon's and the listener's PIDs, the
# namespace it created.
stop_pid() {
  local pid=$1 end=$((SECONDS + 10))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $hang_pid ]] && stop_pid "$hang_pid"
  if [[ -n $daemon_pid ]]; then
    stop_pid "$daemon_pid"
    [[ $rc -ne 0 && -s $tmp/daemon.log ]] && sed 's/^/pktpoold: /' "$tmp/daemon.log" >&2
  fi
  [[ -n $ns_created ]] && ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the namespace and the daemon -----------------------------------------------------
ip netns add "$ns" || { echo "FAIL: cannot create namespace $ns" >&2; exit 1; }
ns_created=1
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
  net.ipv6.conf.default.disable_ipv6=1 || exit 1
ip -n "$ns" link add cmpl0 type veth peer name cmpl1 || exit 1
for link in lo cmpl0 cmpl1; do ip -n "$ns" link set "$link" up || exit 1; done

ip netns exec "$ns" "$daemon" --socket "$socket" --bind cmpl0 >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
end=$((SECONDS + 20))
until "$ctl" --socket "$socket" health >/dev/null 2>&1; do
  if ! kill -0 "$daemon_pid" 2>/dev/null || ((SECONDS >= end)); then
    echo "FAIL: pktpoold did not answer on $socket" >&2
    exit 1
  fi
  sleep 0.1
done

# ---- the harness ------------------------------------------------------------------------
mkdir -p "$tmp/bin" "$tmp/home" "$tmp/files"
ln -s "$ctl" "$tmp/bin/pktpoolctl"  # the completion runs words[0]: this build's pktpoolctl
touch "$tmp/files/trace.pcap" "$tmp/files/ca.pem"
cat >"$tmp/harness.bash" <<'HARNESS'
# harness.bash LINE: completes LINE with the cursor at its end; prints "ms N" and one
# "reply WORD" line per COMPREPLY entry. The function's own output goes to files.
line=$1
# shellcheck source=/dev/null
. "$BASH_COMPLETION" || exit 3
# shellcheck source=/dev/null
. "$COMPLETION_SCRIPT" || exit 3
cd "$COMPLETION_CWD" || exit 3
# Words as readline splits them: at blanks, and '=' and ':' (in COMP_WORDBREAKS) words of
# their own (--socket=S: --socket = S; host:port: host : port).
COMP_WORDS=()
read -ra tokens <<<"$line"
for token in "${tokens[@]}"; do
  while [[ $token == *[=:]* ]]; do
    head=${token%%[=:]*}
    [[ -n $head ]] && COMP_WORDS+=("$head")
    COMP_WORDS+=("${token:${#head}:1}")
    token=${token:${#head}+1}
  done
  [[ -n $token ]] && COMP_WORDS+=("$token")
done
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$line
COMP_POINT=${#line}
spec=$(complete -p pktpoolctl) || exit 4
function=${spec#*-F }
function=${function%% *}
start=${EPOCHREALTIME/[.,]/}
"$function" pktpoolctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" \
  >"$FUNCTION_STDOUT" 2>"$FUNCTION_STDERR"
finish=${EPOCHREALTIME/[.,]/}
echo "ms $(((finish - start) / 1000))"
for word in "${COMPREPLY[@]}"; do echo "reply $word"; done
HARNESS

failures=0
checks=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# complete [VAR=VALUE...] LINE: sets reply (sorted, unique, space-separated) and ms.
reply="" ms=0
complete_line() {
  local -a environment=()
  while (($# > 1)); do environment+=("$1"); shift; done
  local line=$1 out
  out=$(ip netns exec "$ns" env -i PATH="$tmp/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME="$tmp/home" LC_ALL=C BASH_COMPLETION="$bash_completion" \
    COMPLETION_SCRIPT="$script" COMPLETION_CWD="$tmp/files" \
    FUNCTION_STDOUT="$tmp/function.out" FUNCTION_STDERR="$tmp/function.err" \
    "${environment[@]}" bash --norc --noprofile "$tmp/harness.bash" "$line" 2>"$tmp/harness.err")
  local rc=$?
  checks=$((checks + 1))
  if [[ $rc -ne 0 || -s $tmp/harness.err ]]; then
    fail "'$line': the harness exited $rc: $(cat "$tmp/harness.err")"
  fi
  if [[ -s $tmp/function.out || -s $tmp/function.err ]]; then
    fail "'$line': the completion wrote: $(cat "$tmp/function.out" "$tmp/function.err")"
  fi
  ms=$(sed -n 's/^ms //p' <<<"$out")
  reply=$(sed -n 's/^reply //p' <<<"$out" | sort -u | paste -sd ' ')
}

sorted() { tr ' ' '\n' <<<"$*" | sed '/^$/d' | sort -u | paste -sd ' '; }

# expect [VAR=VALUE...] LINE EXPECTED: COMPREPLY is exactly EXPECTED (as a set).
expect() {
  local expected=${*: -1}
  complete_line "${@:1:$#-1}"
  expected=$(sorted "$expected")
  if [[ $reply != "$expected" ]]; then
    fail "'${*: -2:1}': offered [$reply], expected [$expected]" \
      "(missing: [$(comm -13 <(tr ' ' '\n' <<<"$reply") <(tr ' ' '\n' <<<"$expected") | paste -sd ' ')]," \
      "extra: [$(comm -23 <(tr ' ' '\n' <<<"$reply") <(tr ' ' '\n' <<<"$expected") | paste -sd ' ')])"
  fi
}

# expect_includes LINE WORDS: COMPREPLY holds every one of WORDS.
expect_includes() {
  local word
  complete_line "$1"
  for word in $2; do
    [[ " $reply " == *" $word "* ]] || fail "'$1': offered [$reply], lacks $word"
  done
}

# ---- what pktpoolctl's help says ------------------------------------------------------------
# help_flags ARGS...: every option in the Options: section of `pktpoolctl ARGS --help`.
help_flags() {
  "$ctl" "$@" --help | awk '/^Options:/ { in_options = 1; next }
    in_options && /^$/ { in_options = 0 }
    in_options && /^  -/ { n = split($1, names, ","); for (i = 1; i <= n; i++) print names[i] }'
}
# help_choices ARGS...: "NAMES a,b,c" (NAMES: -o,--output) for every option or positional
# with TEXT:{a,b,c}.
help_choices() {
  "$ctl" "$@" --help | sed -n 's/^  \([^ ]*\) TEXT:{\([^}]*\)}.*/\1 \2/p'
}
commands=$("$ctl" --help | awk '/^Subcommands:/ { s = 1; next } s && /^$/ { s = 0 }
  s && /^  [a-z]/ { print $1 }' | paste -sd ' ')
[[ -n $commands ]] || { echo "FAIL: no commands in pktpoolctl --help" >&2; exit 1; }

# ---- commands, options, value lists -------------------------------------------------------
expect "pktpoolctl " "$commands"
expect "pktpoolctl st" "stats"
expect "pktpoolctl --socket $socket -o json " "$commands"

all=$(help_flags | paste -sd ' ')
expect "pktpoolctl -" "$all"
expect "pktpoolctl --" "$(tr ' ' '\n' <<<"$all" | grep -- '^--' | paste -sd ' ')"
for command in $commands; do
  all=$(help_flags "$command" | paste -sd ' ')
  [[ -n $all ]] || fail "no options in pktpoolctl $command --help"
  expect "pktpoolctl $command -" "$all"
  expect "pktpoolctl $command --" "$(tr ' ' '\n' <<<"$all" | grep -- '^--' | paste -sd ' ')"
done

# Every {a,b} list: an option's value, or tune's pool (positional, after the interface).
while read -r names values; do
  [[ $names == -* ]] || { fail "global positional $names with choices: not covered"; continue; }
  for name in ${names//,/ }; do expect "pktpoolctl $name " "${values//,/ }"; done
done < <(help_choices)
for command in $commands; do
  while read -r names values; do
    if [[ $names == -* ]]; then
      for name in ${names//,/ }; do expect "pktpoolctl $command $name " "${values//,/ }"; done
    elif [[ $command == tune && $names == pool ]]; then
      expect "pktpoolctl --socket $socket tune cmpl0 " "${values//,/ }"
      expect "pktpoolctl --socket $socket tune --descriptors 64 cmpl0 " "${values//,/ }"
    else
      fail "$command's positional $names has choices: not covered by this test"
    fi
  done < <(help_choices "$command")
done
help_choices tune | grep -q '^pool ' || fail "pktpoolctl tune --help lists no pool choices"
expect "pktpoolctl --output=j" "json"
expect "pktpoolctl --socket $socket tune cmpl0 tx-b" "tx-buffers"
expect_includes "pktpoolctl --socket $socket tune cmpl0 rx-packets " "--descriptors --overflow"
expect "pktpoolctl bind cmpl1 --snaplen " ""

# ---- interfaces ---------------------------------------------------------------------------
for command in unbind stats pools watch send capture tune; do
  expect "pktpoolctl --socket $socket $command " "cmpl0"
done
expect "pktpoolctl --socket $socket capture cm" "cmpl0"
expect "pktpoolctl --socket=$socket stats " "cmpl0"
expect "pktpoolctl --socket \"$socket\" -o table pools " "cmpl0"
expect "pktpoolctl --socket $socket capture -c 5 " "cmpl0"
expect PKTPOOL_SOCKET="$socket" "pktpoolctl stats " "cmpl0"
expect PKTPOOL_SOCKET="$socket" "pktpoolctl --socket $tmp/absent.sock stats " ""
expect "pktpoolctl --socket $socket capture cmpl0 " ""      # the filter: free text
expect "pktpoolctl --socket $socket capture cmpl0 -c 5 udp " ""
expect "pktpoolctl --socket $socket stats cmpl0 " "-h --help"  # no positional left
# bind: the host's (here: the namespace's) interfaces, bound or not.
expect "pktpoolctl --socket $socket bind " "lo cmpl0 cmpl1"
expect "pktpoolctl bind --direction out cm" "cmpl0 cmpl1"
# A binding made now shows at the next completion.
if "$ctl" --socket "$socket" bind cmpl1 >/dev/null; then
  expect "pktpoolctl --socket $socket unbind " "cmpl0 cmpl1"
  expect "pktpoolctl --socket $socket unbind cmpl1 " "-h --help"
else
  fail "pktpoolctl bind cmpl1 failed"
fi

# ---- files ----------------------------------------------------------------------------------
expect "pktpoolctl --socket $socket send cmpl0 --pcap tr" "trace.pcap"
expect "pktpoolctl --socket $socket send cmpl0 --file c" "ca.pem"
expect "pktpoolctl --socket $socket capture cmpl0 -w tr" "trace.pcap"
expect "pktpoolctl --ca c" "ca.pem"
expect "pktpoolctl --socket $tmp/files/tr" "$tmp/files/trace.pcap"

# ---- no daemon answering: nothing, silently (every call checks silence), within 1.5 s -------
quick() {
  if ((ms > 1500)); then fail "'$1': took $ms ms with no daemon answering (limit 1500)"; fi
  echo "no daemon ($2): '$1' -> [$reply] in $ms ms"
}
line="pktpoolctl --socket $tmp/absent.sock stats "
expect "$line" ""
quick "$line" "no socket"
line="pktpoolctl --target 127.0.0.1:1 unbind "
expect "$line" ""
quick "$line" "TCP port nobody listens on"
# A socket that is listened on but never accepted: the handshake never completes.
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
time.sleep(60)' "$tmp/hang.sock" &
hang_pid=$!
end=$((SECONDS + 10))
until [[ -S $tmp/hang.sock ]] || ((SECONDS >= end)); do sleep 0.05; done
line="pktpoolctl --socket $tmp/hang.sock capture "
expect "$line" ""
quick "$line" "a socket that never answers"

if ((failures > 0)); then
  echo "ctl_completion: $failures of $checks completions failed" >&2
  exit 1
fi
echo "ctl_completion: $checks completions OK (commands: $commands)"
