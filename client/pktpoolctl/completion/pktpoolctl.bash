# bash completion for pktpoolctl                              -*- shell-script -*-
#
# Installed as <completionsdir>/pktpoolctl (cmake/Completion.cmake): bash-completion
# loads it the first time pktpoolctl is completed. By hand: . pktpoolctl.bash
#
# Completes the global options (before the command), the commands, each command's
# options and the values the help lists (-o table|json, --direction, --format...),
# file names for options taking files, pool names (tune), and interfaces:
#   bind                 the host's interfaces (/sys/class/net): not bound yet
#   every other command  the daemon's bindings, from `pktpoolctl -o json bindings`
#                        run against the daemon of the command line (its --socket,
#                        --target and TLS options; else PKTPOOL_SOCKET/PKTPOOL_TARGET)
#                        under `timeout`: nothing, quickly and silently, when no
#                        daemon answers.
# The option lists are pktpoolctl's --help written out; tests/integration/ctl/
# completion_test.sh fails when they and the help differ.

# Global options: flags, and options taking a value (the next word).
_pktpoolctl_global_flags="-h --help --tls"
_pktpoolctl_global_args="--socket --target --ca --cert --key --server-name -o --output"
_pktpoolctl_commands="health version bindings bind unbind stats pools tune watch send capture"
_pktpoolctl_pools="rx-packets rx-buffers tx-packets tx-buffers"

# _pktpoolctl_command_spec COMMAND: sets flags (no value), args (take a value) and
# positionals (what each positional is: interface, host-interface, pool; a trailing
# "..." repeats the last kind, "none" completes nothing). Unknown command: returns 1.
_pktpoolctl_command_spec()
{
    flags="-h --help"
    args=""
    positionals=""
    case $1 in
        health | version | bindings) ;;
        bind)
            flags+=" --no-promisc --immediate --rx-hold --rx-drop"
            args="--snaplen --pcap-buffer --filter --direction --time-stamp-precision
                --timeout-ms --rx-packets --rx-overflow --rx-buffers --rx-buffer-size
                --tx-packets --tx-overflow --tx-buffers --tx-buffer-size --rx-preallocate"
            positionals="host-interface"
            ;;
        unbind | stats | pools) positionals="interface" ;;
        tune)
            args="--descriptors --overflow --buffer-size"
            positionals="interface pool"
            ;;
        watch)
            args="-n --interval --count"
            positionals="interface"
            ;;
        send)
            flags+=" -t --topspeed"
            args="--hex --file --pcap -l --loop -p --pps -M --mbps -x --multiplier
                -L --limit --duration --max-burst --wait"
            positionals="interface"
            ;;
        capture)
            args="-c --count -w --write --format -s --snaplen --queue"
            positionals="interface none ..."
            ;;
        *) return 1 ;;
    esac
    return 0
}

# _pktpoolctl_dequote WORD: WORD as the shell would pass it, for the quoting and
# tildes people type in paths ('my dir'/s.sock, ~/s.sock); nothing is evaluated.
_pktpoolctl_dequote()
{
    local in=$1 out="" quote="" c i user home
    if [[ $in =~ ^~([A-Za-z0-9._-]*)(/.*)?$ ]]; then
        user=${BASH_REMATCH[1]}
        if [[ -z $user ]]; then
            home=$HOME
        else
            home=$(getent passwd "$user" 2>/dev/null | cut -d: -f6)
        fi
        [[ -n $home ]] && in=$home${BASH_REMATCH[2]}
    fi
    for ((i = 0; i < ${#in}; i++)); do
        c=${in:i:1}
        if [[ $quote == "'" ]]; then
            if [[ $c == "'" ]]; then quote=""; else out+=$c; fi
        elif [[ $quote == '"' ]]; then
            if [[ $c == '"' ]]; then
                quote=""
            elif [[ $c == "\\" && ${in:i+1:1} == [\"\\\$\`] ]]; then
                out+=${in:i+1:1}
                i=$((i + 1))
            else
                out+=$c
            fi
        elif [[ $c == "'" || $c == '"' ]]; then
            quote=$c
        elif [[ $c == "\\" ]]; then
            out+=${in:i+1:1}
            i=$((i + 1))
        else
            out+=$c
        fi
    done
    printf '%s' "$out"
}

# _pktpoolctl_bound_interfaces CTL [CONNECTION OPTIONS...]: the interfaces the daemon
# has bound, one a line; nothing when it does not answer within a second.
_pktpoolctl_bound_interfaces()
{
    local out re='"interface":[[:space:]]*"([^"]*)"'
    out=$(timeout -k 0.5 1 "$@" -o json bindings 2>/dev/null </dev/null) || return 0
    while [[ $out =~ $re ]]; do
        printf '%s\n' "${BASH_REMATCH[1]}"
        out=${out#*"${BASH_REMATCH[0]}"}
    done
}

# The host's interfaces (those of this shell's network namespace).
_pktpoolctl_host_interfaces()
{
    local path
    for path in /sys/class/net/*; do
        [[ -e $path ]] && printf '%s\n' "${path##*/}"
    done
}

# COMPREPLY: the lines of stdin that start with $cur. Not compgen -W, which would
# expand what the daemon or /sys/class/net named (an interface may be called '$(x)').
_pktpoolctl_reply_matching()
{
    local name
    COMPREPLY=()
    while IFS= read -r name; do
        [[ -n $name && $name == "$cur"* ]] && COMPREPLY+=("$name")
    done
}

_pktpoolctl()
{
    local cur prev words cword split
    # -s: --socket=PATH is split into prev and cur; -n ':': host:port stays one word.
    _init_completion -s -n : || return

    # The global options (up to the command), then the command's words.
    local i=1 command="" command_index=0 word
    local -a connection=()
    while ((i < cword)); do
        word=${words[i]}
        if [[ " $_pktpoolctl_global_args " == *" $word "* ]]; then
            case $word in
                -o | --output) ;;
                *) connection+=("$word" "$(_pktpoolctl_dequote "${words[i + 1]}")") ;;
            esac
            i=$((i + 2))
        elif [[ $word == -* ]]; then
            case $word in
                --socket=* | --target=* | --ca=* | --cert=* | --key=* | --server-name=*)
                    connection+=("${word%%=*}=$(_pktpoolctl_dequote "${word#*=}")")
                    ;;
                --tls) connection+=("$word") ;;
            esac
            i=$((i + 1))
        else
            command=$word
            command_index=$i
            break
        fi
    done

    if [[ -z $command ]]; then
        case $prev in
            --socket | --ca | --cert | --key)
                _filedir
                __ltrim_colon_completions "$cur"
                return
                ;;
            -o | --output)
                mapfile -t COMPREPLY < <(compgen -W "table json" -- "$cur")
                return
                ;;
            --target | --server-name) return ;;
        esac
        $split && return
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W \
                "$_pktpoolctl_global_flags $_pktpoolctl_global_args" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$_pktpoolctl_commands" -- "$cur")
        fi
        return
    fi

    local flags args positionals
    _pktpoolctl_command_spec "$command" || return

    # The value of an option.
    if [[ " ${args//[[:space:]]/ } " == *" $prev "* ]]; then
        case $command:$prev in
            bind:--direction)
                mapfile -t COMPREPLY < <(compgen -W "in out inout" -- "$cur")
                ;;
            bind:--time-stamp-precision)
                mapfile -t COMPREPLY < <(compgen -W "nano micro" -- "$cur")
                ;;
            capture:--format)
                mapfile -t COMPREPLY < <(compgen -W "pcap pcapng" -- "$cur")
                ;;
            send:--file | send:--pcap | capture:-w | capture:--write)
                _filedir
                __ltrim_colon_completions "$cur"
                ;;
        esac
        return
    fi
    $split && return

    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$flags $args" -- "$cur")
        return
    fi

    # Which positional the word is: count those before it, past options and values.
    local position=0
    for ((i = command_index + 1; i < cword; i++)); do
        word=${words[i]}
        if [[ $word == -* ]]; then
            [[ " ${args//[[:space:]]/ } " == *" $word "* ]] && i=$((i + 1))
        else
            position=$((position + 1))
        fi
    done
    local -a kinds
    read -ra kinds <<<"$positionals"
    local kind="" repeated=""
    if ((${#kinds[@]} > 1)) && [[ ${kinds[-1]} == "..." ]]; then
        repeated=${kinds[-2]}
        unset 'kinds[-1]'
    fi
    if ((position < ${#kinds[@]})); then
        kind=${kinds[position]}
    else
        kind=$repeated
    fi
    case $kind in
        interface)
            _pktpoolctl_reply_matching < <(_pktpoolctl_bound_interfaces \
                "$(_pktpoolctl_dequote "${words[0]}")" "${connection[@]}")
            ;;
        host-interface)
            _pktpoolctl_reply_matching < <(_pktpoolctl_host_interfaces)
            ;;
        pool)
            mapfile -t COMPREPLY < <(compgen -W "$_pktpoolctl_pools" -- "$cur")
            ;;
        none) ;;
        *)
            # Every positional given: the command's options.
            mapfile -t COMPREPLY < <(compgen -W "$flags $args" -- "$cur")
            ;;
    esac
} &&
    complete -F _pktpoolctl pktpoolctl

# ex: filetype=sh
