// SPDX-License-Identifier: MIT
// A TUN interface created inside a network namespace that already exists (`synack attach`,
// the slirp4netns front): a short-lived child enters the namespace — through the user
// namespace that owns it when we lack the privilege ourselves — creates the TUN there,
// optionally configures it, and hands the descriptor back over a Unix socket (SCM_RIGHTS).
// The caller stays in its own namespaces, where its relay sockets reach the host's network.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "os/netns.hpp"
#include "synack/expected.hpp"
#include "synack/tun_device.hpp"

namespace synack::os {

// Where the namespace is: "/proc/PID/ns/net" for a process, or a path (a bind mount made by
// `ip netns add`, podman, rootlesskit). `pid` is set when it was given as a process.
struct NamespaceTarget {
  std::string netns_path;
  std::optional<pid_t> pid;
  // The user namespace to enter first; empty: none. Entering it is skipped when it is the one
  // we already are in (setns would refuse).
  std::string userns_path;
};

// "1234" -> /proc/1234/ns/net (and, when not root, /proc/1234/ns/user as the user namespace);
// a bare NAME is /run/netns/NAME (`ip netns add NAME`); anything else is a path. `type`:
// "auto", "pid" or "path" (slirp4netns's --netns-type).
// Errors: a message (no such process, not a namespace file, bad type).
Expected<NamespaceTarget, std::string> resolve_namespace(const std::string& target,
                                                         const std::string& type,
                                                         const std::string& userns_path);

// Whether any process is a member of the network namespace at `netns_path`, found by comparing
// the device and inode of every /proc/PID/ns/net with the path's (processes we may not inspect
// are not counted). nullopt: the path itself is gone (`ip netns del`) or is not readable.
std::optional<bool> namespace_has_processes(const std::string& netns_path);

struct AttachTunConfig {
  NamespaceTarget target;
  TunConfig tun;
  // Configure the interface (link up, addresses, default routes, lo up); otherwise it is only
  // created, as slirp4netns without --configure leaves it to its caller.
  bool configure = true;
  // An interface of the TUN's name that exists already (a TAP the caller made) is deleted and
  // a TUN made in its place (the slirp4netns front: rootlesskit prepares tap0 so).
  bool replace_tap = false;
  std::vector<InterfacePrefix> addresses;
  std::vector<wire::IpAddress> gateways;  // host routes to these, and default routes via them
};

// Creates the TUN in the target namespace (at most 20 s). Errors: a message from the step
// that failed (setns refused: not root and no owning user namespace; TUN name in use; `ip`).
Expected<std::unique_ptr<TunDevice>, std::string> open_tun_in_namespace(
    const AttachTunConfig& config);

// Starts `argv` (argv[0] looked up in PATH) inside the target's user (if any) and network
// namespaces, with default signal dispositions and an empty mask (`synack run --netns`).
// Errors: fork's; a failure inside (setns, exec) is the child's exit status 126/127, with a
// message on stderr.
Expected<pid_t, std::string> spawn_in_namespace(const NamespaceTarget& target,
                                                const std::vector<std::string>& argv);

}  // namespace synack::os
