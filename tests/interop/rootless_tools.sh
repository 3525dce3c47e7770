#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# synack as the slirp4netns of the real rootless tools (issue 16 §2, §5): rootless podman 4 and
# rootlesskit 1.1, each run by a dedicated unprivileged user this test creates (with subuid and
# subgid ranges, removed on exit), each given a copy of synack named slirp4netns.
#  - podman: `network_cmd_path` in the containers.conf named by CONTAINERS_CONF; an image made
#    by `podman import` of a tarball this test builds from the host's static busybox (nothing is
#    pulled). From inside the container: 100000 bytes from a host server on 127.0.0.1 through
#    the gateway 10.0.2.2 (allow_host_loopback=true), a name resolved through 10.0.2.3 by this
#    test's own resolver; `podman run -p 127.0.0.1:HP:8080` with port_handler=slirp4netns
#    (podman adds the forward through synack's --api-socket) serves a page a host client gets;
#    synack exits when the container does.
#  - rootlesskit --net=slirp4netns --slirp4netns-binary=COPY --port-driver=slirp4netns -p: a
#    plain command does the same (host server, resolver, a published port).
# The test's resolver listens on 127.0.0.1:53 and the tools run in a mount namespace whose
# /etc/resolv.conf names it (synack's upstream, as the host's resolver is slirp4netns's).
# Where the host's cgroup hierarchy is hybrid (crun refuses it), that mount namespace mounts a
# cgroup2 over /sys/fs/cgroup and containers run with cgroups disabled. Skips (77) when podman
# and rootlesskit are both missing, or uidmap, busybox-static or port 53 is.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup rootless_tools --no-netns
need python3 curl useradd userdel runuser unshare newuidmap newgidmap sha256sum
HERE=$(dirname "$(readlink -f "$0")")
HAVE_PODMAN=0
HAVE_RK=0
command -v podman >/dev/null && HAVE_PODMAN=1
command -v rootlesskit >/dev/null && HAVE_RK=1
[ $HAVE_PODMAN = 1 ] || [ $HAVE_RK = 1 ] || skip "needs podman or rootlesskit (apt-get install podman rootlesskit)"
if ss -Hlun 'sport = :53' | grep -q . || ss -Hltn 'sport = :53' | grep -q .; then
  skip "needs port 53 free on the host for the test's resolver"
fi

# --- a dedicated user, its id ranges, its files ---------------------------------------------
TUSER="synackit$$"
TUN_MODE=$(stat -c %a /dev/net/tun)
tools_cleanup() {
  local pid
  # Every process of the test's own user is one this test started (podman's pause process,
  # conmon, synack): ended by PID.
  for pid in $(pgrep -u "$TUSER" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  sed -i "/^$TUSER:/d" /etc/subuid /etc/subgid
  userdel "$TUSER" 2>/dev/null
  [ "$TUN_MODE" = 666 ] || chmod "$TUN_MODE" /dev/net/tun
  cleanup
}
trap tools_cleanup EXIT
useradd -M -d "$WORK/home" -s /bin/sh "$TUSER" || skip "cannot create a user"
# An unused range past every existing one.
start=$(awk -F: 'BEGIN { m = 200000 } { if ($2 + $3 > m) m = $2 + $3 } END { print m }' /etc/subuid /etc/subgid)
echo "$TUSER:$start:65536" >>/etc/subuid
echo "$TUSER:$start:65536" >>/etc/subgid
# Rootless slirp4netns opens /dev/net/tun as the user (Debian's mode is 0666).
[ "$TUN_MODE" = 666 ] || chmod 0666 /dev/net/tun
chmod 755 "$WORK"
mkdir -p "$WORK/home" "$WORK/run" "$WORK/bin" "$WORK/share"
cp "$SYNACK" "$WORK/bin/slirp4netns"   # argv[0] "slirp4netns": synack's slirp4netns front
chown "$TUSER" "$WORK/home" "$WORK/run" "$WORK/share"
chmod 700 "$WORK/run"
UID_T=$(id -u "$TUSER")

# --- the host's side: an HTTP server, the resolver ------------------------------------------
host_py http "$HERE/host_server.py" http
HTTP_PORT=$HOST_PORT
host_py dns "$HERE/dns_server.py" 127.0.0.1 53 synack-it.test 198.18.0.7
echo "nameserver 127.0.0.1" >"$WORK/resolv.conf"
WANT_SHA=$(pattern_sha256 100000)

# as_user CMD...: CMD as the test's user, in a mount namespace whose /etc/resolv.conf names
# the test's resolver (and whose /sys/fs/cgroup crun accepts), bounded by $STEP_TIMEOUT.
CGROUP_FIX=""
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || CGROUP_FIX="mount -t cgroup2 none /sys/fs/cgroup &&"
as_user() {
  timeout -k 5 "$STEP_TIMEOUT" unshare -m sh -c "mount --make-rprivate / &&
    mount --bind '$WORK/resolv.conf' /etc/resolv.conf && $CGROUP_FIX mount --make-rshared / &&
    exec runuser -u '$TUSER' -- env HOME='$WORK/home' XDG_RUNTIME_DIR='$WORK/run' \
      CONTAINERS_CONF='$WORK/containers.conf' PATH=/usr/sbin:/usr/bin:/sbin:/bin \"\$@\"" as_user "$@"
}

# --- podman ------------------------------------------------------------------------------------
if [ $HAVE_PODMAN = 1 ]; then
  BUSYBOX=$(command -v busybox || true)
  [ -n "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 ||
    skip "podman part needs a static busybox (apt-get install busybox-static) for its image"
  mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/www" "$WORK/rootfs/tmp"
  cp "$BUSYBOX" "$WORK/rootfs/bin/busybox"
  for tool in sh wget nslookup httpd sha256sum cat ip; do ln -s busybox "$WORK/rootfs/bin/$tool"; done
  echo "synack-it page $$" >"$WORK/rootfs/www/index.html"
  tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
  chmod 644 "$WORK/rootfs.tar"
  cat >"$WORK/containers.conf" <<CONF
[engine]
network_cmd_path = "$WORK/bin/slirp4netns"
cgroup_manager = "cgroupfs"
[containers]
cgroups = "disabled"
CONF
  chmod 644 "$WORK/containers.conf"
  P=(podman --storage-driver vfs)
  as_user "${P[@]}" import "$WORK/rootfs.tar" localhost/synack-it >/dev/null 2>"$WORK/import.err" ||
    { cat "$WORK/import.err" >&2; fail "podman import"; }
  as_user "${P[@]}" run --rm --network slirp4netns:allow_host_loopback=true localhost/synack-it \
    sh -c "ip -4 addr show tap0; wget -q -O- http://10.0.2.2:$HTTP_PORT/bytes/100000 | sha256sum; nslookup synack-it.test" \
    >"$WORK/podman.out" 2>"$WORK/podman.err" || { cat "$WORK/podman.out" "$WORK/podman.err" >&2; fail "podman run"; }
  grep -q "inet 10.0.2.100/24" "$WORK/podman.out" || { cat "$WORK/podman.out" >&2; fail "podman: tap0 is not 10.0.2.100/24"; }
  grep -q "^$WANT_SHA " "$WORK/podman.out" || { cat "$WORK/podman.out" "$WORK/podman.err" >&2; fail "podman: wget through 10.0.2.2: SHA-256 differs"; }
  grep -q "198.18.0.7" "$WORK/podman.out" || { cat "$WORK/podman.out" >&2; fail "podman: synack-it.test not resolved through 10.0.2.3"; }
  grep -q "QUERY .*synack-it" "$WORK/dns.out" || fail "podman: the test's resolver saw no query"
  echo "podman: container at 10.0.2.100 fetched 100000 bytes from the host's 127.0.0.1:$HTTP_PORT via 10.0.2.2, resolved synack-it.test via 10.0.2.3"

  HP=$(free_port)
  as_user "${P[@]}" run -d --name synack-it-web --network slirp4netns:port_handler=slirp4netns \
    -p "127.0.0.1:$HP:8080" localhost/synack-it httpd -f -p 8080 -h /www >/dev/null 2>"$WORK/web.err" ||
    { cat "$WORK/web.err" >&2; fail "podman run -d -p"; }
  got=""
  for _ in $(seq 100); do
    got=$(curl -sS --max-time 5 "http://127.0.0.1:$HP/" 2>/dev/null) && [ -n "$got" ] && break
    sleep 0.1
  done
  [ "$got" = "synack-it page $$" ] || fail "podman -p 127.0.0.1:$HP:8080: the host got '$got'"
  echo "podman: -p 127.0.0.1:$HP:8080 (port_handler=slirp4netns, synack's API socket): the host client got the page"
  as_user "${P[@]}" rm -f -t 0 synack-it-web >/dev/null 2>&1 || fail "podman rm"
  for _ in $(seq 100); do pgrep -u "$TUSER" -x slirp4netns >/dev/null || break; sleep 0.1; done
  pgrep -u "$TUSER" -x slirp4netns >/dev/null && fail "podman: synack (slirp4netns) still running 10 s after the container was removed"
  echo "podman: synack exited with the container"
fi

# --- rootlesskit -------------------------------------------------------------------------------
if [ $HAVE_RK = 1 ]; then
  HP2=$(free_port)
  cat >"$WORK/share/inside.sh" <<SH
set -e
curl -sS --max-time 20 http://10.0.2.2:$HTTP_PORT/bytes/100000 | sha256sum
getent hosts synack-it.test
python3 -u "$HERE/host_server.py" http 0.0.0.0 8000 >"$WORK/share/server.out" 2>&1 &
for i in \$(seq 300); do [ -e "$WORK/share/done" ] && exit 0; sleep 0.1; done
echo "the host never finished" >&2
exit 1
SH
  chmod 755 "$WORK/share/inside.sh"
  as_user rootlesskit --net=slirp4netns --slirp4netns-binary="$WORK/bin/slirp4netns" \
    --port-driver=slirp4netns -p "127.0.0.1:$HP2:8000/tcp" --copy-up=/etc \
    sh "$WORK/share/inside.sh" >"$WORK/rk.out" 2>"$WORK/rk.err" &
  RK=$!
  PIDS+=("$RK")
  for _ in $(seq 150); do grep -q "^PORT 8000" "$WORK/share/server.out" 2>/dev/null && break
    kill -0 "$RK" 2>/dev/null || break; sleep 0.1; done
  got=$(timeout "$STEP_TIMEOUT" curl -sS --max-time 20 "http://127.0.0.1:$HP2/bytes/100000" | sha256sum | cut -d' ' -f1)
  touch "$WORK/share/done"
  wait "$RK" || { cat "$WORK/rk.out" "$WORK/rk.err" >&2; fail "rootlesskit: the command failed"; }
  grep -q "^$WANT_SHA " "$WORK/rk.out" || { cat "$WORK/rk.out" "$WORK/rk.err" >&2; fail "rootlesskit: curl through 10.0.2.2: SHA-256 differs"; }
  grep -q "^198.18.0.7 .*synack-it.test" "$WORK/rk.out" || { cat "$WORK/rk.out" >&2; fail "rootlesskit: synack-it.test not resolved"; }
  [ "$got" = "$WANT_SHA" ] || { cat "$WORK/rk.err" >&2; fail "rootlesskit -p 127.0.0.1:$HP2:8000 (port driver slirp4netns): SHA-256 differs"; }
  echo "rootlesskit: the command fetched 100000 bytes via 10.0.2.2, resolved synack-it.test, and its server was published on 127.0.0.1:$HP2 (100000 bytes to the host)"
fi
echo "PASS"
