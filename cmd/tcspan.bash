# tcspan(8) bash completion                                -*- shell-script -*-
#
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Install as /usr/share/bash-completion/completions/tcspan, or source it.
# It needs bash alone; with the bash-completion package loaded, files are
# completed by its _filedir.  tests/integration/docs.sh checks that the
# commands and options offered here are those of `tcspan --help` and of
# tcspan(8).
#
# Completions are words without blanks (options, names), so COMPREPLY is
# filled from compgen's output split on blanks, as completions do.
# shellcheck shell=bash disable=SC2207

# Sets words, cword, cur and prev from COMP_WORDS and COMP_CWORD, with an
# "--opt=value" that bash split at "=" put together again, and then split
# the way bash-completion's `_init_completion -s` does: for "--color=al",
# prev is "--color" and cur is "al".  Returns 0 when cur is such a value.
_tcspan_init()
{
    local i w
    words=()
    cword=0
    for (( i=0; i < ${#COMP_WORDS[@]}; i++ )); do
        w=${COMP_WORDS[i]}
        if (( i > 0 )) && [[ $w == = && ${words[-1]} == --* &&
                ${words[-1]} != *=* ]]; then
            # "--color" "=" ["al"]: one word.  (After "--color=", bash
            # makes no empty word; an empty one means a space came first.)
            words[-1]+=$w
            if (( i < COMP_CWORD )) && [[ -n ${COMP_WORDS[i+1]} ]]; then
                i=$(( i + 1 ))
                words[-1]+=${COMP_WORDS[i]}
            fi
        else
            words+=( "$w" )
        fi
        (( i <= COMP_CWORD )) && cword=$(( ${#words[@]} - 1 ))
    done
    cur=${words[cword]-}
    prev=${words[cword-1]-}
    if [[ $cur == --*=* ]]; then
        prev=${cur%%=*}
        cur=${cur#*=}
        return 0
    fi
    return 1
}

# YAML files (and directories, to go down into) for a FILE argument.
_tcspan_files()
{
    if declare -F _filedir >/dev/null; then
        _filedir '@(yaml|yml)'
        return
    fi
    local f
    compopt -o filenames 2>/dev/null
    while IFS= read -r f; do
        [[ -d $f || $f == *.yaml || $f == *.yml ]] && COMPREPLY+=( "$f" )
    done < <(compgen -f -- "$cur")
}

# The names of the topologies that tcspan owns now, from `tcspan -j show`:
# {"topologies": [{"name": "NAME", "rules": [{"name": "RULE", ...}], ...}]}.
# A topology's name is the one followed by "rules"; a rule's is not.
_tcspan_topologies()
{
    local names
    names=$( "${1:-tcspan}" -j show 2>/dev/null |
        grep -oE '"name": *"[a-z0-9-]*", *"rules"' |
        sed -e 's/^"name": *"\([a-z0-9-]*\)".*/\1/' )
    COMPREPLY+=( $( compgen -W "$names" -- "$cur" ) )
}

# The devices of the rules that tcspan owns now ("from" and "to" of
# `tcspan -j show`, "NETNS/DEV" or "DEV"), for --dev.
_tcspan_devices()
{
    local devs
    devs=$( "${1:-tcspan}" -j show 2>/dev/null |
        grep -oE '"(from|to)": *"[^"]+"' |
        sed -e 's/^"[a-z]*": *"\(.*\)"$/\1/' )
    COMPREPLY+=( $( compgen -W "$devs" -- "$cur" ) )
}

# Adds to COMPREPLY those of the options given that are not on the command
# line yet (from word $2 on); each option is taken once.
_tcspan_once()
{
    local opts=$1 first=$2 o i found
    for o in $opts; do
        found=0
        for (( i=first; i < cword; i++ )); do
            if [[ ${words[i]} == "$o" ]]; then
                found=1
                break
            fi
        done
        (( found )) || COMPREPLY+=( $( compgen -W "$o" -- "$cur" ) )
    done
}

_tcspan()
{
    local cur prev words cword split=0
    _tcspan_init && split=1
    COMPREPLY=()

    local global_opts='-j --json -v --verbose -q --quiet --color= -h --help
        -V --version'
    local commands='validate plan apply show stats destroy tap help'
    local colors='auto always never'

    # --color=WHEN, and --color WHEN.
    if [[ $prev == --color ]]; then
        COMPREPLY=( $( compgen -W "$colors" -- "$cur" ) )
        # Without "=" in COMP_WORDBREAKS, bash replaces all of
        # "--color=al", not just "al".
        if (( split )) && [[ $COMP_WORDBREAKS != *=* ]]; then
            COMPREPLY=( "${COMPREPLY[@]/#/--color=}" )
        fi
        return 0
    fi
    (( split )) && return 0

    # The command: the first word that is not a global option.
    local i command='' ci=0
    for (( i=1; i < cword; i++ )); do
        case ${words[i]} in
            --color)
                i=$(( i + 1 ))    # its WHEN
                ;;
            -*)
                ;;
            *)
                command=${words[i]}
                ci=$i
                break
                ;;
        esac
    done

    if [[ -z $command ]]; then
        case $cur in
            -*)
                COMPREPLY=( $( compgen -W "$global_opts" -- "$cur" ) )
                [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] &&
                    compopt -o nospace 2>/dev/null
                ;;
            *)
                COMPREPLY=( $( compgen -W "$commands" -- "$cur" ) )
                ;;
        esac
        return 0
    fi

    # Options that take a value: nothing to offer for SEC.  (apply's
    # --watch takes none.)
    case $prev in
        --dev)
            _tcspan_devices "$1"
            return 0
            ;;
        --wait|--netns|--match|--to|--snaplen|--count|--duration)
            return 0
            ;;
        --direction)
            COMPREPLY=( $( compgen -W 'ingress egress both' -- "$cur" ) )
            return 0
            ;;
        -w)
            [[ $command == tap ]] && compopt -o filenames 2>/dev/null &&
                COMPREPLY=( $( compgen -f -- "$cur" ) )
            return 0
            ;;
        --watch)
            [[ $command == stats ]] && return 0
            ;;
    esac

    # The command's operands so far (the options come before them).
    local operands=0 skip=0
    for (( i=ci+1; i < cword; i++ )); do
        if (( skip )); then
            skip=0
        elif [[ ${words[i]} == --wait || ${words[i]} == --dev ||
                ( ${words[i]} == --watch && $command == stats ) ||
                ( $command == tap && ${words[i]} == @(--netns|--direction|--match|-w|--to|--snaplen|--count|--duration) ) ]]; then
            skip=1
        elif [[ ${words[i]} != -* ]]; then
            operands=$(( operands + 1 ))
        fi
    done

    case $command in
        validate)
            _tcspan_files
            ;;
        plan)
            (( operands )) && return 0
            if [[ $cur == -* ]]; then
                _tcspan_once '--detailed-exitcode --wait' $(( ci + 1 ))
            else
                _tcspan_files
            fi
            ;;
        apply)
            (( operands )) && return 0
            if [[ $cur == -* ]]; then
                local opts='--dry-run --wait --watch'
                # --destroy-on-exit goes with --watch; --watch not with
                # --dry-run.
                for (( i=ci+1; i < cword; i++ )); do
                    case ${words[i]} in
                        --watch) opts='--wait --watch --destroy-on-exit' ;;
                        --dry-run) opts='--dry-run --wait' ;;
                    esac
                done
                _tcspan_once "$opts" $(( ci + 1 ))
            else
                _tcspan_files
            fi
            ;;
        show)
            (( operands )) && return 0
            if [[ $cur == -* ]]; then
                _tcspan_once '--dev' $(( ci + 1 ))
            else
                _tcspan_topologies "$1"
            fi
            ;;
        stats)
            (( operands )) && return 0
            if [[ $cur == -* ]]; then
                _tcspan_once '--dev --watch' $(( ci + 1 ))
            else
                _tcspan_topologies "$1"
            fi
            ;;
        tap)
            # After "--" (or CMD) the words are CMD's.
            (( operands )) && return 0
            for (( i=ci+1; i < cword; i++ )); do
                [[ ${words[i]} == -- ]] && return 0
            done
            if [[ $cur == -* ]]; then
                # --dev and --match may come again; -w and --to exclude
                # each other.
                COMPREPLY=( $( compgen -W '--dev --match' -- "$cur" ) )
                local opts='--netns --direction --snaplen --count --duration -w --to'
                for (( i=ci+1; i < cword; i++ )); do
                    case ${words[i]} in
                        -w) opts=${opts/--to/} ;;
                        --to) opts=${opts/-w /} ;;
                    esac
                done
                _tcspan_once "$opts" $(( ci + 1 ))
            fi
            ;;
        destroy)
            (( operands )) && return 0
            if [[ $cur == -* ]]; then
                _tcspan_once '--wait --taps' $(( ci + 1 ))
            else
                _tcspan_topologies "$1"
                _tcspan_files
            fi
            ;;
    esac
    return 0
} &&
complete -F _tcspan tcspan

# ex: ts=4 sw=4 et filetype=sh
