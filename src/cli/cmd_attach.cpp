// SPDX-License-Identifier: MIT
// `synack attach [OPTIONS] PID|PATH`: user-mode networking for a network namespace that exists
// already (made by unshare, a container runtime, a sandbox), as `synack run` gives its own.
#include <memory>

#include "cli/attach_service.hpp"
#include "cli/commands.hpp"
#include "cli/net_options.hpp"

namespace synack::cli {

void register_attach(CLI::App& app) {
  auto args = std::make_shared<AttachArgs>();
  auto* cmd = app.add_subcommand(
      "attach",
      "serve a network namespace that exists already: a TUN inside it, its traffic relayed "
      "through host sockets (like slirp4netns or pasta given a PID)");
  cmd->add_option("target", args->target,
                  "the namespace: a process id (its network namespace) or a path such as "
                  "/run/netns/NAME or /proc/PID/ns/net");
  cmd->add_option("--netns-type", args->netns_type,
                  "how to read the target: auto (digits are a PID), pid or path")
      ->check(CLI::IsMember({"auto", "pid", "path"}));
  cmd->add_option("--userns-path", args->userns_path,
                  "enter this user namespace first (default, not root, for a PID: its own)");
  cmd->add_flag("--allow-host-loopback", args->allow_host_loopback,
                "let connections and datagrams to the gateway address reach the host's "
                "127.0.0.1 / ::1 (refused otherwise)");
  cmd->add_option("-p,--publish", args->forwards,
                  "forward [HOSTADDR:]HOSTPORT:PORT (TCP) into the namespace; repeatable (more "
                  "at run time: synack forward add)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--dns", args->dns,
                  "where DNS queries to the gateway go, ADDR[:PORT] (default: the first "
                  "nameserver of the host's /etc/resolv.conf)");
  cmd->add_option("--ready-fd", args->ready_fd,
                  "write \"1\" to this descriptor and close it once the namespace is served");
  cmd->add_option("--exit-fd", args->exit_fd,
                  "exit (status 0) when this descriptor becomes readable or its other end closes");
  cmd->add_option("--pid-file", args->pid_file, "write synack's process id to FILE");
  cmd->add_option("--api-socket", args->api_socket,
                  "slirp4netns's JSON API on this UNIX socket (add_hostfwd, list_hostfwd, "
                  "remove_hostfwd)");
  add_net_options(cmd, args->net);
  // The same bounds as synack run's: the namespace's processes are no more trusted here.
  add_server_options(cmd, args->net, false);
  cmd->footer(
      "The TUN (--tun, default synack0) is created inside the namespace with --peer (default\n"
      "198.18.0.2/24) and --peer6 and default routes via synack's --addr and --addr6; lo is\n"
      "brought up. Not root: the namespace's owning user namespace is entered (for a PID, the\n"
      "process's own; else --userns-path), as slirp4netns does.\n"
      "Runs until the target process exits (PID), the --exit-fd closes, the TUN is deleted, or\n"
      "SIGINT/SIGTERM. Exit status 0; 1 when setting up failed or the TUN went away; killed by\n"
      "the signal after SIGINT/SIGTERM.\n\n"
      "Examples:\n"
      "  unshare --user --map-root-user --net sleep infinity & synack attach $!\n"
      "  ip netns add box && synack attach /run/netns/box --allow-host-loopback -p 8080:80");
  cmd->callback([args] {
    AttachArgs a = *args;
    if (a.target.empty()) a.target = a.net.netns;  // --netns PATH|PID as a synonym
    a.net.netns.clear();
    exit_status() = serve_namespace(a);
  });
}

}  // namespace synack::cli
