#!/bin/bash
# Runs inside the exporter's sandbox (a copy of its unit with this as ExecStart) and tries
# what a compromised daemon holding its two capabilities would. Each line: "denied <what>"
# or "ALLOWED <what>"; the test expects denied everywhere.
attempt() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "ALLOWED $what"; else echo "denied $what"; fi
}
journald=
for d in /proc/[0-9]*; do [[ $(cat "$d/comm" 2>/dev/null) == systemd-journal ]] && journald=${d#/proc/}; done
# /tmp and /var/tmp are private to the service; anything else writable is shared.
attempt "write a directory outside the private /tmp and /var/tmp" sh -c '
  ! find / \( -path /proc -o -path /sys -o -path /tmp -o -path /var/tmp \) -prune -o \
    -type d -writable -print 2>/dev/null |
    while read -r dir; do touch "$dir/.memledger-sandbox-test" 2>/dev/null && exit 1; done'
attempt "open journald's memory for writing" sh -c "exec 3<>/proc/$journald/mem"
attempt "read a byte of /etc/shadow" sh -c '[ -n "$(head -c1 /etc/shadow)" ]'
attempt "read an ssh host key" sh -c '[ -n "$(cat /etc/ssh/ssh_host_ed25519_key)" ]'
attempt "process_vm_writev" python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(libc.process_vm_writev(os.getpid(), None, 0, None, 0, 0) != 0)'
attempt "ptrace" python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(libc.ptrace(0, 0, None, None) != 0)  # PTRACE_TRACEME'
attempt "create a user namespace" unshare --user true
