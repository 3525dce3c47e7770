// SPDX-License-Identifier: MIT
// The kernel's side of a TUN: network namespaces and interface configuration, done by running
// iproute2's `ip` (the same commands a person would type, so failures read naturally).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "synack/expected.hpp"
#include "wire/ip_address.hpp"

namespace synack::os {

// Runs `argv` (argv[0] looked up in PATH) with default signal dispositions and an empty signal
// mask, waits for it. Errors: a message with the command line and its exit status; the
// command's own stderr passes through to ours unless `quiet`.
Expected<void, std::string> run_command(const std::vector<std::string>& argv, bool quiet = false);

// A named network namespace (ip netns). ensure() creates it when missing; the destructor
// deletes it only if ensure() created it.
class NetNamespace {
 public:
  static Expected<std::unique_ptr<NetNamespace>, std::string> ensure(const std::string& name);
  ~NetNamespace();
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;
  const std::string& name() const { return name_; }
  bool created() const { return created_; }
  static bool exists(const std::string& name);

 private:
  NetNamespace(std::string name, bool created) : name_(std::move(name)), created_(created) {}
  std::string name_;
  bool created_;
};

struct InterfacePrefix {
  wire::IpAddress address;
  unsigned prefix = 24;
};

// Configuration of the kernel's side of the TUN interface `ifname`.
struct KernelSideConfig {
  std::string ifname;
  std::optional<std::string> netns;        // run in this namespace (ip -n NAME)
  unsigned mtu = 0;                        // 0: leave it
  std::vector<InterfacePrefix> addresses;  // the kernel's own addresses, with their prefixes
  // synack's addresses: a host route through the interface is added for any that the prefixes
  // above do not cover.
  std::vector<wire::IpAddress> peers;
  // Default routes through these gateways (one per family at most).
  std::vector<wire::IpAddress> default_via;
};

// Moves interface `ifname` into namespace `netns` under the name `new_name` (the move takes it
// down and flushes its addresses; the TUN descriptor stays valid).
Expected<void, std::string> move_interface(const std::string& ifname, const std::string& netns,
                                           const std::string& new_name);

// Sets MTU, brings the link up, adds addresses (IPv6 with nodad: a point-to-point TUN has no
// one to collide with) and routes.
Expected<void, std::string> configure_kernel_side(const KernelSideConfig& config);

// True when `a` lies in prefix `p` (same family).
bool prefix_contains(const InterfacePrefix& p, const wire::IpAddress& a);

}  // namespace synack::os
