# hookctl.bash -- bash completion for hookctl (installed to bash-completion's completions dir).
_hookctl()
{
    local cur prev words cword
    _init_completion || return
    local commands="list show create edit activate deactivate delete actions trigger deliveries delivery redeliver ui help"
    local common="--json --socket --help"
    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case "${words[i]}" in
            --socket) ((i++)) ;;
            -*) ;;
            *) cmd="${words[i]}"; break ;;
        esac
    done
    case "$prev" in
        --socket) _filedir sock; return ;;
        --application) COMPREPLY=($(compgen -W "enterprise elite" -- "$cur")); return ;;
        --status) COMPREPLY=($(compgen -W "active inactive" -- "$cur")); return ;;
        --state) COMPREPLY=($(compgen -W "pending succeeded failed cancelled" -- "$cur")); return ;;
        --origin) COMPREPLY=($(compgen -W "user api" -- "$cur")); return ;;
        --auth-method) COMPREPLY=($(compgen -W "oauth" -- "$cur")); return ;;
        --payload) [[ "$cur" == @* ]] && COMPREPLY=($(compgen -f -P @ -- "${cur#@}")); return ;;
        --trigger|--action|--name|--url|--timeout|--secret|--description|--event-id) return ;;
    esac
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W "$commands $common --version" -- "$cur"))
        return
    fi
    local flags=""
    case "$cmd" in
        list) flags="--application --trigger --status --wide" ;;
        show) flags="--reveal-secret" ;;
        create) flags="--application --trigger --name --url --timeout --secret --async --ignore-for-api --inactive --description" ;;
        edit) flags="--name --trigger --url --timeout --secret --async --sync --ignore-for-api --no-ignore-for-api --active --inactive --description --application --auth-method" ;;
        actions) flags="--application" ;;
        trigger) flags="--application --action --payload --origin --event-id" ;;
        deliveries) flags="--state --wide" ;;
        help) COMPREPLY=($(compgen -W "$commands" -- "$cur")); return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags $common" -- "$cur"))
        return
    fi
    case "$cmd" in
        show|edit|activate|deactivate|delete|deliveries)
            # Webhook names from hookd itself, when it answers.
            local IFS=$'\n'
            COMPREPLY=($(compgen -W "$(hookctl --json list 2>/dev/null | sed -n 's/^      "name": "\(.*\)",$/\1/p')" -- "$cur"))
            ;;
    esac
} && complete -F _hookctl hookctl
