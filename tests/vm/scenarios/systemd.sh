# vm-rootfs: debian
# vm-min-timeout: 600
# systemd: tierd installed by "meson install --destdir" into a Debian
# bookworm root, run by systemd as PID 1 through the shipped tierd.service.
. /mnt/share/scenarios/lib.sh

CONF=/etc/tierd.conf
UNIT=tierd.service

unit_prop() { systemctl show -p "$1" --value $UNIT; }
status_json() { tierctl status --json 2>/dev/null; }
json_field() { status_json | jq -r "$1"; }
# "running" or "idle" (no work to do, e.g. no scanning backend): not paused
not_paused() { case "$(json_field .state)" in running|idle) return 0 ;; *) return 1 ;; esac; }

info "systemd $(systemctl --version | head -n1 | cut -d' ' -f2), PID 1 is $(cat /proc/1/comm)"
check "tierd installed in /usr/sbin" test -x /usr/sbin/tierd
check "tierctl installed in /usr/bin" test -x /usr/bin/tierctl
check "unit file installed" test -f /lib/systemd/system/$UNIT
check "/etc/tierd.conf installed" test -f $CONF

# members of group "tester" may read the status (set before the first start)
sed -i 's/^#control_group =$/control_group = tester/' $CONF
check "config edited: control_group = tester" grep -q '^control_group = tester$' $CONF

# ---- enable --now
systemctl enable --now $UNIT > /tmp/enable.out 2>&1
check_eq "systemctl enable --now tierd exit code" 0 $?
show enable /tmp/enable.out
check_eq "tierd is enabled" enabled "$(systemctl is-enabled $UNIT)"
check_eq "tierd is active" active "$(systemctl is-active $UNIT)"
check_eq "tierd is Type=notify" notify "$(unit_prop Type)"
if [ "$(systemctl is-active $UNIT)" != active ]; then
    journalctl -u $UNIT --no-pager -o cat > /tmp/journal.txt 2>&1
    show journal /tmp/journal.txt
    tierd --check-config > /tmp/check.out 2>&1
    show check-config /tmp/check.out
    fail "tierd did not start: the remaining checks are skipped"
    finish
fi

tierctl status > /tmp/status.txt 2>&1
check_eq "tierctl status exit code" 0 $?
show status /tmp/status.txt
info "state: $(json_field .state) ($(json_field .state_reason)), backend: $(json_field .backend)"
check "tierctl status --json state is running or idle ($(json_field .state))" not_paused

# ---- good edit + reload
sed -i 's/^#passes = 3$/passes = 5/' $CONF
check "config edited: passes = 5" grep -q '^passes = 5$' $CONF
tierd --check-config --config $CONF > /tmp/check.out 2>&1
check_eq "tierd --check-config accepts the edit" 0 $?
systemctl reload $UNIT
check_eq "systemctl reload tierd exit code" 0 $?
wait_for 30 sh -c '[ "$(tierctl status --json | jq -r .config_reloads)" = 1 ]'
check_eq "reload applied: config_reloads" 1 "$(json_field .config_reloads)"
check_eq "reload applied: passes" 5 "$(json_field .passes)"
check_eq "tierd still active after reload" active "$(systemctl is-active $UNIT)"

# ---- bad edit + reload keeps the running configuration
sed -i 's/^passes = 5$/passes = 99/' $CONF
BADLINE=$(grep -n '^passes = 99$' $CONF | cut -d: -f1)
info "bad value 'passes = 99' on $CONF line $BADLINE"
tierd --check-config --config $CONF > /tmp/check.out 2>&1
check_eq "tierd --check-config rejects the bad edit with exit 78" 78 $?
show check-config /tmp/check.out
systemctl reload $UNIT
check_eq "systemctl reload (bad config) exit code" 0 $?
wait_for 30 sh -c '[ "$(tierctl status --json | jq -r .config_reload_failures)" = 1 ]'
check_eq "bad reload refused: config_reload_failures" 1 "$(json_field .config_reload_failures)"
check_eq "bad reload refused: passes still 5" 5 "$(json_field .passes)"
check_eq "tierd still active after bad reload" active "$(systemctl is-active $UNIT)"
check "tierd state unchanged: running or idle ($(json_field .state))" not_paused
sleep 1
journalctl -u $UNIT --no-pager -o cat > /tmp/journal.txt 2>&1
show journal /tmp/journal.txt
check "journalctl -u tierd shows the error at $CONF:$BADLINE" grep -q "$CONF:$BADLINE" /tmp/journal.txt

# ---- a non-root user cannot change the daemon
runuser -u tester -- tierctl status > /tmp/tester-status.out 2>&1
check_eq "control_group member 'tester' may run tierctl status" 0 $?
runuser -u tester -- tierctl pause > /tmp/pause.out 2>&1
rc=$?
show tester-pause /tmp/pause.out
check "non-root 'tierctl pause' is refused (exit $rc)" test $rc -ne 0
check "daemon not paused by the refused request ($(json_field .state))" not_paused
tierctl pause > /tmp/pause-root.out 2>&1
check_eq "root 'tierctl pause' works" 0 $?
check_eq "state after root pause" paused "$(json_field .state)"
tierctl resume > /dev/null 2>&1
check "state after root resume is running or idle ($(json_field .state))" not_paused

# ---- the hardened unit really scans: page_idle writes /sys/kernel/mm/page_idle/bitmap (made writable again
# under ProtectKernelTunables=) and the census calls move_pages (allowed by SystemCallFilter=)
BUSY=$(start_busy_loop 0)
workload-anon --mib 64 --hot-mib 16 --cpu 0 --busy > /tmp/workload.out 2>&1 &
WPID=$!
wait_for 60 grep -q '^WORKLOAD pid=' /tmp/workload.out
sed -i "s/^passes = 99$/passes = 3/; s/^#pid =$/pid = $WPID/" $CONF
check "config edited: pid = $WPID" grep -q "^pid = $WPID$" $CONF
systemctl reload $UNIT
wait_for 30 sh -c '[ "$(tierctl status --json | jq -r .config_reloads)" = 2 ]'
check_eq "reload with a target applied" 2 "$(json_field .config_reloads)"
check_eq "backend under the unit" page_idle "$(json_field .backend)"
scanned() { tierctl status --json | jq -e '.tracked_bytes > 0 and ([.tiers[].hot_bytes // 0] | add) > 0' >/dev/null; }
check "under the unit tierd tracks the workload and finds its hot pages" wait_for 120 scanned
tierctl status > /tmp/status-scan.txt 2>&1; show status /tmp/status-scan.txt
kill $WPID $BUSY 2>/dev/null

# The minimal root has no man-db, so the man page check is left to the host's unit-file test.
systemd-analyze verify --man=no /lib/systemd/system/$UNIT > /tmp/verify.out 2>&1
check_eq "systemd-analyze verify of the installed unit exit code" 0 $?
check "systemd-analyze verify printed nothing" test ! -s /tmp/verify.out
show verify /tmp/verify.out

# ---- clean stop
systemctl stop $UNIT
check_eq "systemctl stop tierd exit code" 0 $?
check_eq "tierd is inactive (not failed) after stop" inactive "$(systemctl is-active $UNIT)"
check_eq "unit Result after stop" success "$(unit_prop Result)"
check_eq "tierd main process exit status" 0 "$(unit_prop ExecMainStatus)"
journalctl -u $UNIT --no-pager -o cat > $OUT/journal.txt 2>&1
finish
