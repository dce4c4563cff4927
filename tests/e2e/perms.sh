#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Who may reach the control plane (docs/CONTROL.md, Who may reach what): the
# modes and owners of the run directory, the CnC region, the admin socket and
# the state; an unprivileged user (uid 65534, setpriv) can neither connect to
# the admin socket nor open the CnC region, even once it may enter the run
# directory; a member of --socket-group can connect.
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || { t_log "skip: setpriv not found"; exit 77; }
getent passwd 65534 >/dev/null || { t_log "skip: no user 65534"; exit 77; }
t_start
RUN=/run/sluice/$T_DP
"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$T_DIR/state" --metrics off \
	>>"$T_DIR/control.log" 2>&1 &
T_BG+=("$!")
t_wait 10 test -S "$RUN/control.sock" || t_fail "sluice-control did not start"
"$SL_BUILD/ctl/sluicectl" -n "$T_DP" user add perm --credentials "$T_DIR/perm.cred" >/dev/null ||
	t_fail "user add"

mode() { stat -c '%a %U:%G' "$1"; }
t_eq "run directory" "$(mode "$RUN")" "750 root:root"
t_eq "CnC region" "$(mode "$RUN/cnc")" "600 root:root"
t_eq "admin socket" "$(mode "$RUN/control.sock")" "660 root:root"
t_eq "state directory" "$(mode "$T_DIR/state")" "700 root:root"
t_eq "state file" "$(mode "$T_DIR/state/state.json")" "600 root:root"
t_eq "credentials file" "$(stat -c %a "$T_DIR/perm.cred")" 600

# nobody ARGS...: run as uid/gid 65534 without supplementary groups.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
PY=/usr/bin/python3 # not a per-user shim: uid 65534 must be able to run it
# try_open PATH socket|file: "ok" or the errno name, as uid 65534.
try_open() {
	nobody "$PY" -c '
import errno, socket, sys
try:
    if sys.argv[2] == "socket":
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    else:
        open(sys.argv[1], "r+b")
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))' "$1" "$2"
}
t_eq "nobody: admin socket refused" "$(try_open "$RUN/control.sock" socket)" EACCES
t_eq "nobody: CnC region refused" "$(try_open "$RUN/cnc" file)" EACCES
nobody "$SL_BUILD/ctl/sluicectl" -n "$T_DP" policy show >/dev/null 2>"$T_DIR/nobody.err"
t_eq "nobody: sluicectl cannot reach sluice-control" "$?" 3
t_check "... and says why" grep -qi "permission" "$T_DIR/nobody.err"

# Let group 65534 enter the run directory: the files' own modes still refuse.
chgrp 65534 "$RUN"
t_eq "group may enter: admin socket still refused" "$(try_open "$RUN/control.sock" socket)" EACCES
t_eq "group may enter: CnC region still refused" "$(try_open "$RUN/cnc" file)" EACCES
chgrp root "$RUN"

# A second sluice-control (no dataplane needed) whose socket group is 65534,
# in a directory anyone may enter: its members connect, others do not.
SD=$(mktemp -d /tmp/sluice-perms-sock.XXXXXX)
chmod 755 "$SD"
"$SL_BUILD/control/sluice-control" -n "$T_DP-g" --state-dir "$T_DIR/state-g" --metrics off \
	--socket "$SD/control.sock" --socket-group nogroup >>"$T_DIR/control-g.log" 2>&1 &
T_BG+=("$!")
t_wait 10 test -S "$SD/control.sock" || t_fail "second sluice-control did not start"
t_eq "--socket-group: socket mode and group" "$(mode "$SD/control.sock")" "660 root:nogroup"
t_eq "a member of the socket group connects" \
	"$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("ok")' "$SD/control.sock")" ok
t_eq "someone else does not" "$(setpriv --reuid=65534 --regid=100 --clear-groups "$PY" -c '
import errno, socket, sys
try:
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno))' "$SD/control.sock")" EACCES
kill "${T_BG[-1]}" 2>/dev/null
wait "${T_BG[-1]}" 2>/dev/null
rm -rf "$SD"
t_done
