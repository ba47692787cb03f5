# Shell functions the scripts share. Sourced, not run; the caller defines log and die.

# make_venv VENV PYTHON WHAT PIP_INSTALL_ARGS...
# Creates the Python venv VENV with PYTHON and runs `pip install PIP_INSTALL_ARGS...` in it,
# then `pip check`. Built in a temporary folder beside VENV and renamed into place only when
# complete (VENV/.complete marks it), so an interrupted run leaves nothing that looks usable and
# two runs at once end with one complete venv. Returns at once when VENV is complete already.
# WHAT names the packages in the progress line.
make_venv() {
  local venv="$1" python="$2" what="$3"
  shift 3
  [[ -f "$venv/.complete" ]] && return 0
  mkdir -p "$(dirname "$venv")"
  if [[ -d "$venv" ]]; then log "removing incomplete venv $venv"; rm -rf "$venv"; fi
  local tmpvenv
  tmpvenv="$(mktemp -d "$venv.tmp.XXXXXX")"
  # shellcheck disable=SC2064  # the folder's name is fixed now
  trap "rm -rf '$tmpvenv'" EXIT
  log "creating Python venv $venv"
  "$python" -m venv "$tmpvenv" >&2 \
    || die "'$python -m venv' failed; on Debian/Ubuntu install the venv module: apt-get install python3-venv"
  log "installing $what from PyPI"
  "$tmpvenv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --require-virtualenv "$@" >&2 \
    || die "pip install $* failed (PyPI reachable? a wheel for this Python?)"
  local check
  check="$("$tmpvenv/bin/python" -m pip check --disable-pip-version-check 2>&1)" \
    || die "the installed set is incomplete or inconsistent (pip check): fix the pinned requirements: $check"
  touch "$tmpvenv/.complete"
  # The venv is only ever used through bin/python, which does not depend on its folder name.
  if ! "$python" -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$tmpvenv" "$venv" 2>/dev/null; then
    [[ -f "$venv/.complete" ]] || die "cannot move $tmpvenv to $venv"
    rm -rf "$tmpvenv"  # another run finished first
  fi
  trap - EXIT
}
