# Sourced by the catalogue scripts of examples/ (agent/agentctl for supervisor,
# templates/systemd/agentctl-systemd, templates/docker/agentctl-docker): the five actions
# phasegate asks of a machine, idempotent under their keys, with a journal of what was done.
# The script that sources this defines how its service manager keeps an agent's state:
#   snapshot DIR        copy what a stage may change into DIR (the backup)
#   restore DIR         put back what snapshot copied
#   install_stage SPEC  apply the stage described by the folder SPEC (changes/<change>/stage-<n>)
#   restart             restart the agent so it runs what is installed; non-zero if it does not start
#   running             zero when the agent's program is up (a retried apply restarts it if not)
#   marker_present      zero when the agent shows the stage; 1 absent; 4 could not tell
# and sets `home` (the agent's folder, holding agent.conf, changes/, backups/, .phasegate/)
# after calling parse_options "$@". Exit codes: 0 done; 1 failed (verify-marker: absent);
# 2 usage; 4 verify-marker could not tell.
set -uo pipefail

fleet_root= conf= action= agent= change= stage= key=
parse_options() {
  while (($#)); do
    case $1 in
      --fleet-root) fleet_root=$2; shift 2 ;;
      --supervisor-conf|--unit-dir|--compose-dir) conf=$2; shift 2 ;;
      --agent) agent=$2; shift 2 ;;
      --change) change=$2; shift 2 ;;
      --stage) stage=$2; shift 2 ;;
      --key) key=$2; shift 2 ;;
      -*) usage "unknown option $1" ;;
      *) action=$1; shift ;;
    esac
  done
  [[ -n $fleet_root && -n $action ]] || usage "--fleet-root and an action are required"
  [[ $agent =~ ^[A-Za-z][A-Za-z0-9_.-]{0,63}$ ]] || usage "--agent must be an agent name"
  home=$fleet_root/$agent
  [[ -d $home ]] || { echo "$action: $agent has no home at $home" >&2; exit 1; }
  state=$home/.phasegate
  mkdir -p "$state"
  host=$(setting host) port=$(setting port) hub=$(setting hub)
}
usage() { echo "$(basename "$0"): $1" >&2; echo "usage: $(basename "$0") --fleet-root DIR [--supervisor-conf FILE|--unit-dir DIR|--compose-dir DIR] ACTION --agent NAME [--change ID --stage N] [--key KEY]" >&2; exit 2; }
setting() { sed -n "s/^$1=//p" "$home/agent.conf" 2>/dev/null | head -n 1; }
journal() { printf '%s %s %s %s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$action" "${change:--}" "${stage:--}" "${key:--}" "$1" >>"$state/journal"; }
fail() { journal "failed: $1"; echo "$action $agent: $1" >&2; exit 1; }
need_stage() {
  [[ $change =~ ^[A-Za-z][A-Za-z0-9_.-]{0,63}$ ]] || usage "--change must be a change id"
  [[ $stage =~ ^[1-3]$ ]] || usage "--stage must be 1, 2 or 3"
}
need_key() { [[ $key =~ ^[A-Za-z0-9_.:@-]{1,200}$ ]] || usage "--key must be an idempotency key"; }
# Whether this action already ran under this key: its marker file holds the key.
done_under_key() { [[ -f $1 && $(cat "$1") == "$key" ]]; }
# The agent's own report (release, pid, config lines), from its health server.
report() { curl -sf --max-time 5 "http://$host:$port/report"; }
summary() { report | grep -E '^(release|pid) ' | tr '\n' ' '; }

run_action() {
  case $action in
    backup)
      need_stage; need_key
      local b=$home/backups/$change/stage-$stage
      if done_under_key "$b/key"; then journal already-done; echo "backup of $agent before $change stage $stage: already taken under this key"; return 0; fi
      local tmp=$b.tmp.$$
      rm -rf "$tmp" && mkdir -p "$tmp" || fail "cannot write $tmp"
      snapshot "$tmp" || fail "cannot copy the agent's state into $tmp"
      echo "$key" >"$tmp/key"
      rm -rf "$b" && mv "$tmp" "$b" || fail "cannot move the backup into place"
      journal done
      echo "backup of $agent before $change stage $stage taken"
      ;;
    apply-stage)
      need_stage; need_key
      local applied=$state/applied.$change.stage-$stage spec=$home/changes/$change/stage-$stage
      if done_under_key "$applied"; then
        # A retry: the stage is in place; make sure the program runs it (the first try's restart may have failed).
        if ! running; then restart || { journal restart-failed; exit 1; }; fi
        journal already-done; echo "$change stage $stage on $agent: already applied under this key"; return 0
      fi
      [[ -f $home/backups/$change/stage-$stage/key ]] || fail "no backup taken before $change stage $stage"
      [[ -d $spec ]] || fail "$spec does not exist: the change was not delivered to this machine"
      install_stage "$spec" || fail "cannot install $spec"
      # Written before the restart: a stage in place is applied even when the program then
      # fails to start, so that its undo puts the old state back.
      echo "$key" >"$applied"
      journal applied
      restart || { journal restart-failed; exit 1; }
      echo "$change stage $stage applied on $agent; $(summary)"
      ;;
    undo-stage)
      need_stage; need_key
      local undone=$state/undone.$change.stage-$stage applied=$state/applied.$change.stage-$stage b=$home/backups/$change/stage-$stage
      if done_under_key "$undone"; then journal already-done; echo "$change stage $stage on $agent: already undone under this key"; return 0; fi
      if [[ ! -f $applied ]]; then
        # Never applied (an apply writes the marker first): the agent is as the backup left it.
        echo "$key" >"$undone"; journal nothing-to-undo
        echo "$change stage $stage on $agent: not applied, nothing to undo"; return 0
      fi
      [[ -f $b/key ]] || fail "stage applied but its backup is missing"
      restore "$b" || fail "cannot restore the backup $b"
      restart || { journal restart-failed; exit 1; }
      rm -f "$applied"
      echo "$key" >"$undone"
      journal undone
      echo "$change stage $stage undone on $agent; $(summary)"
      ;;
    verify-marker)
      need_stage
      marker_present; local rc=$?
      case $rc in
        0) echo "$agent shows $change stage $stage" ;;
        1) echo "$agent does not show $change stage $stage" ;;
        *) echo "verify-marker $agent: could not tell" >&2; rc=4 ;;
      esac
      return $rc
      ;;
    integration-check)
      local r h pid hub_pid status age
      r=$(report) || { echo "integration-check $agent: the agent did not answer at http://$host:$port/report" >&2; return 1; }
      h=$(curl -sf --max-time 5 "$hub/agents/$agent") || { echo "integration-check $agent: not registered with its hub at $hub" >&2; return 1; }
      pid=$(sed -n 's/^pid //p' <<<"$r") hub_pid=$(sed -n 's/^pid //p' <<<"$h")
      status=$(sed -n 's/^status //p' <<<"$h") age=$(sed -n 's/^seen-ms-ago //p' <<<"$h")
      [[ $pid == "$hub_pid" ]] || { echo "integration-check $agent: the hub knows pid $hub_pid, the agent runs as pid $pid" >&2; return 1; }
      [[ $status == ok ]] || { echo "integration-check $agent: the hub reports status $status" >&2; return 1; }
      ((age < 10000)) || { echo "integration-check $agent: last registration $age ms ago" >&2; return 1; }
      echo "$agent registered with its hub as pid $pid, status ok"
      ;;
    *) usage "unknown action $action" ;;
  esac
}

# The marker of a stage as the agent's own report shows it: the release it names, or the
# configuration file it installed.
report_shows_stage() {
  local spec=$home/changes/$change/stage-$stage want r
  if [[ -f $spec/release ]]; then want="release $(cat "$spec/release")"; else want="config $change.stage-$stage"; fi
  r=$(report) || return 4
  grep -qxF "$want" <<<"$r"
}
