#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# synack run without root: as nobody (uid 65534), synack run puts CMD in a user namespace of
# its own (CMD is uid 0 there, nobody outside). curl inside downloads 16 MB from and uploads
# 16 MB to a python3 HTTP server on the host's loopback (--allow-host-loopback), byte-exact;
# the exit status is passed through; and without the flag the host's loopback stays refused.
# Skipped when unprivileged user namespaces are disabled.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_rootless --no-netns
need python3 curl setpriv sha256sum head
HERE=$(dirname "$(readlink -f "$0")")
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/ LANG=C.UTF-8)
as_nobody() { timeout -k 5 "$STEP_TIMEOUT" "${NOBODY[@]}" "$@"; }

as_nobody unshare -Urn true 2>"$WORK/unshare.err" ||
  skip "unprivileged user namespaces are disabled here (unshare -Urn as nobody: $(head -1 "$WORK/unshare.err"))"
as_nobody test -x "$SYNACK" || skip "nobody cannot execute $SYNACK (a parent directory is not searchable)"
chmod 755 "$WORK"  # nobody reads files here
# /dev/net/tun is usually 0666; where it is not (0600 here and there), nobody gets a 0666 node
# of its own, bind-mounted over /dev/net/tun in a mount namespace of this test only.
if ! as_nobody sh -c 'exec 3<>/dev/net/tun' 2>/dev/null; then
  need unshare mknod mount
  mknod -m 666 "$WORK/tun" c 10 200 || skip "nobody cannot open /dev/net/tun and mknod failed"
  echo "note: /dev/net/tun is $(stat -c %A /dev/net/tun); nobody gets a 0666 node bind-mounted over it"
  NOBODY=(unshare -m --propagation private sh -c 'mount --bind "$0" /dev/net/tun && exec "$@"' "$WORK/tun" "${NOBODY[@]}")
  as_nobody sh -c 'exec 3<>/dev/net/tun' || skip "nobody cannot open /dev/net/tun, even through a 0666 node"
fi
SIZE=${TRANSFER_BYTES:-16777216}
head -c "$SIZE" /dev/urandom >"$WORK/random.bin"
chmod 644 "$WORK/random.bin"
random_sha=$(sha256sum <"$WORK/random.bin" | cut -d' ' -f1)
host_py http "$HERE/host_server.py" http
URL="http://$ADDR:$HOST_PORT"

as_nobody "$SYNACK" run --allow-host-loopback --stats -- sh -c '
    set -e
    echo "inside: $(id -u) $(readlink /proc/self/ns/user)"
    curl -sS -f --max-time 40 "$1/bytes/$2" | sha256sum | cut -d" " -f1
    curl -sS -f --max-time 40 -T "$3" "$1/upload"; echo' sh "$URL" "$SIZE" "$WORK/random.bin" \
  >"$WORK/run.out" 2>"$WORK/run.err"
status=$?
cat "$WORK/run.out"
[ "$status" = 0 ] || { cat "$WORK/run.err" >&2; fail "synack run as nobody: exit status $status"; }
read -r _ inside_uid inside_userns < <(sed -n 1p "$WORK/run.out")
[ "$inside_uid" = 0 ] || fail "CMD's uid inside the user namespace is $inside_uid, want 0"
[ "$inside_userns" != "$(readlink /proc/self/ns/user)" ] || fail "CMD runs in the host's user namespace"
[ "$(sed -n 2p "$WORK/run.out")" = "$(pattern_sha256 "$SIZE")" ] || fail "as nobody: download of $SIZE bytes: SHA-256 differs"
[ "$(sed -n 3p "$WORK/run.out")" = "length=$SIZE sha256=$random_sha" ] ||
  fail "as nobody: upload: the host server got '$(sed -n 3p "$WORK/run.out")'"
echo "as nobody: CMD uid 0 in its own user namespace; $SIZE bytes down and up, SHA-256 equal"

as_nobody "$SYNACK" run -- sh -c 'exit 42' 2>"$WORK/exit.err"
status=$?
[ "$status" = 42 ] || { cat "$WORK/exit.err" >&2; fail "as nobody: synack run -- sh -c 'exit 42': exit status $status"; }
echo "as nobody: exit status 42 passed through"

as_nobody "$SYNACK" run -- python3 -c '
import errno, socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    sys.exit("connected to the host loopback without --allow-host-loopback")
except ConnectionRefusedError:
    print("without --allow-host-loopback: ECONNREFUSED")' "$ADDR" "$HOST_PORT" 2>"$WORK/denied.err" ||
  { cat "$WORK/denied.err" >&2; fail "as nobody: the host's loopback must be refused without --allow-host-loopback"; }
echo "PASS"
