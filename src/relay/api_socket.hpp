// SPDX-License-Identifier: MIT
// slirp4netns's API socket (--api-socket PATH), for the tools that drive it: rootlesskit's
// slirp4netns port driver and podman's slirp4netns port handler add and remove port forwards
// at run time through it. A UNIX stream socket; each connection carries one JSON request and
// gets one JSON answer, then closes:
//
//   {"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "0.0.0.0",
//                                            "host_port": 8080, "guest_port": 80}}
//     -> {"return": {"id": 1}}          ("proto": "udp" as well, as slirp4netns)
//   {"execute": "list_hostfwd"}
//     -> {"return": {"entries": [{"id": 1, "proto": "tcp", "host_addr": "0.0.0.0",
//                                 "host_port": 8080, "guest_addr": "10.0.2.100",
//                                 "guest_port": 80}]}}
//   {"execute": "remove_hostfwd", "arguments": {"id": 1}}  -> {"return": {}}
//   anything wrong -> {"error": {"desc": "bad request: ..."}}
//
// The request ends when it parses as a complete JSON value or when the client shuts down its
// writing side (podman and rootlesskit do the latter). Bounded like the control socket: a
// request is at most kMaxRequest bytes, at most max_clients are served at once (others are
// closed at accept), and a client that has not sent its request and read the answer within
// client_timeout is dropped. Never blocks the event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "os/accept_rest.hpp"
#include "relay/relay.hpp"
#include "synack/event_loop.hpp"
#include "synack/expected.hpp"

namespace synack::relay {

class ApiSocket {
 public:
  static constexpr std::size_t kMaxRequest = 4096;  // slirp4netns reads at most this much
  struct Options {
    Duration client_timeout = 5s;
    std::size_t max_clients = 16;
  };
  struct Stats {
    std::uint64_t requests = 0;      // answered, successfully or with an error
    std::uint64_t errors = 0;        // of which with {"error": ...}
    std::uint64_t timeouts = 0;      // clients dropped at client_timeout
    std::uint64_t refused = 0;       // closed at accept: max_clients reached
    std::uint64_t accept_rests = 0;  // accept4() out of descriptors: the listener rested
  };

  // Binds `path` (an existing socket file there is replaced, as slirp4netns does) and serves
  // on `loop`. `guest` and `guest6` are the namespace's addresses (list_hostfwd's guest_addr;
  // add_hostfwd's guest_addr must be one of them or absent). Errors: a message
  // (path too long, socket, bind, listen).
  static Expected<std::unique_ptr<ApiSocket>, std::string> open(
      os::EventLoop& loop, Relay& relay, const std::string& path, wire::IpAddress guest,
      std::optional<wire::IpAddress> guest6, Options options);
  // Closes every client and the socket, and removes the socket file.
  ~ApiSocket();
  ApiSocket(const ApiSocket&) = delete;
  ApiSocket& operator=(const ApiSocket&) = delete;

  // The answer to one request (a JSON text); never throws.
  std::string answer(std::string_view request);
  const Stats& stats() const { return stats_; }
  std::size_t clients() const { return clients_.size(); }

 private:
  struct Client {
    std::string in;
    std::string out;
    std::size_t sent = 0;
    bool answering = false;
    os::EventLoop::TimerId timer = 0;
  };
  ApiSocket(os::EventLoop& loop, Relay& relay, wire::IpAddress guest,
            std::optional<wire::IpAddress> guest6, Options options)
      : loop_(loop), relay_(relay), guest_(guest), guest6_(guest6), options_(options) {}
  void on_listen_ready();
  void on_client_ready(int fd, std::uint32_t events);
  void start_answer(int fd, Client& client);
  void write_some(int fd, Client& client);
  void drop(int fd);

  os::EventLoop& loop_;
  Relay& relay_;
  wire::IpAddress guest_;
  std::optional<wire::IpAddress> guest6_;
  Options options_;
  std::string path_;
  int listen_fd_ = -1;
  std::unordered_map<int, Client> clients_;
  Stats stats_;
  os::AcceptRest<os::EventLoop> rest_{loop_};
};

}  // namespace synack::relay
