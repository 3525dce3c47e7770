// SPDX-License-Identifier: MIT
// `synack serve`: echo, discard and HTTP servers on synack's TCP, reached by the kernel
// through a TUN device.
#include <cstring>
#include <iostream>
#include <memory>
#include <unordered_map>

#include "apps/http_server.hpp"
#include "apps/serve_apps.hpp"
#include "cli/commands.hpp"
#include "cli/net_options.hpp"
#include "control/control_socket.hpp"
#include "synack/event_loop.hpp"
#include "synack/tun_device.hpp"

namespace synack::cli {
using namespace synack::apps;
using namespace synack::control;
using namespace synack::os;
namespace {

enum class Service : std::uint8_t { Echo, Discard, Http };

struct ServeArgs {
  NetOptions net;
  std::optional<std::uint16_t> echo, discard, http;
};

class Server {
 public:
  explicit Server(NetEnvironment& env) : stack_(env.stack()), loop_(env.loop()) {}

  bool listen(Service service, std::uint16_t port) {
    // The unspecified address: every address of ours, IPv4 and IPv6.
    auto id = stack_.listen(wire::Endpoint{wire::IpAddress{}, port}, loop_.now());
    if (!id) {
      std::cerr << "synack serve: cannot listen on port " << port << ": " << to_string(id.error())
                << "\n";
      return false;
    }
    listeners_[*id] = service;
    return true;
  }

  void on_event(const SocketEvent& ev) {
    Instant now = loop_.now();
    if (ev.is_listener) {
      auto it = listeners_.find(ev.handle);
      if (it == listeners_.end()) return;
      while (true) {
        auto id = stack_.accept(ev.handle);
        if (!id) break;
        std::unique_ptr<Session> session;
        switch (it->second) {
          case Service::Echo:
            session = std::make_unique<EchoSession>(stack_, *id);
            break;
          case Service::Discard:
            session = std::make_unique<DiscardSession>(stack_, *id);
            break;
          case Service::Http:
            session = std::make_unique<HttpSession>(stack_, *id);
            break;
        }
        Session& s = *session;
        sessions_[*id] = std::move(session);
        if (stopping_)
          s.stop(now);
        else
          s.on_event(0, now);  // data may have arrived before accept()
        if (s.done()) sessions_.erase(*id);
      }
      return;
    }
    auto it = sessions_.find(ev.handle);
    if (it == sessions_.end()) return;  // not accepted yet: accept() will catch up
    it->second->on_event(ev.events, now);
    if (it->second->done()) sessions_.erase(it);
  }

  void stop() {
    stopping_ = true;
    Instant now = loop_.now();
    for (auto& [id, service] : listeners_) (void)stack_.close_listener(id, now);
    listeners_.clear();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it->second->stop(now);
      it = it->second->done() ? sessions_.erase(it) : std::next(it);
    }
  }

 private:
  Stack& stack_;
  os::EventLoop& loop_;
  std::unordered_map<ListenerId, Service> listeners_;
  std::unordered_map<ConnectionId, std::unique_ptr<Session>> sessions_;
  bool stopping_ = false;
};

int run_serve(const ServeArgs& args) {
  std::string error;
  auto env = NetEnvironment::create(args.net, "synack serve", &error);
  if (!env) {
    std::cerr << "synack serve: " << error << "\n";
    return 1;
  }
  auto echo = args.echo, discard = args.discard, http = args.http;
  if (!echo && !discard && !http) {
    // Nothing chosen: all three on their well-known ports.
    echo = 7;
    discard = 9;
    http = 80;
  }
  Server server(*env);
  std::string services;
  if (echo) {
    if (!server.listen(Service::Echo, *echo)) return 1;
    services += " echo=" + std::to_string(*echo);
  }
  if (discard) {
    if (!server.listen(Service::Discard, *discard)) return 1;
    services += " discard=" + std::to_string(*discard);
  }
  if (http) {
    if (!server.listen(Service::Http, *http)) return 1;
    services += " http=" + std::to_string(*http);
  }
  auto& loop = env->loop();
  loop.on_socket_event([&](const SocketEvent& ev) { server.on_event(ev); });
  loop.on_shutdown([&] { server.stop(); });
  auto control = ControlService::open(loop, env->stack(), "serve");  // synack ss / stats
  // The TUN deleted (or its namespace gone): nothing left to serve, as synack attach.
  bool tun_gone = false;
  loop.on_tun_error([&](int e) {
    std::cerr << "synack serve: the TUN " << env->tun().name() << " is gone (" << std::strerror(e)
              << ")\n";
    tun_gone = true;
    loop.stop();
  });

  std::string addresses = env->address().to_string();
  if (env->address6()) addresses += " " + env->address6()->to_string();
  std::cout << "synack serve: listening on " << addresses << services << " (" << env->describe()
            << ")" << std::endl;
  loop.run();
  env->finish();
  return tun_gone ? 1 : 0;
}

}  // namespace

void register_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve",
      "serve echo (RFC 862), discard (RFC 863) and HTTP on synack's TCP through a TUN device");
  cmd->add_option("--echo", args->echo, "echo server on PORT")->check(CLI::Range(1, 65535));
  cmd->add_option("--discard", args->discard, "discard server on PORT")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--http", args->http,
                  "HTTP/1.1 server on PORT: GET / (a page), GET /bytes/N (N bytes, byte i = i "
                  "mod 251), PUT/POST (answers length=N sha256=HEX)")
      ->check(CLI::Range(1, 65535));
  add_net_options(cmd, args->net);
  add_server_options(cmd, args->net, true);
  cmd->footer(
      "With no --echo/--discard/--http, serves all three on ports 7, 9 and 80.\n"
      "Prints one line 'synack serve: listening on ...' when ready; runs until SIGINT or\n"
      "SIGTERM, then closes its connections (at most 2 s) and removes the TUN and the\n"
      "namespace it created. Needs CAP_NET_ADMIN and /dev/net/tun.\n\n"
      "Example:\n"
      "  synack serve --netns synack-demo --http 80 &\n"
      "  ip netns exec synack-demo curl http://198.18.0.1/bytes/1000000 | sha256sum\n"
      "Exit status: 0 after a signal, 1 when setup failed.");
  cmd->callback([args] { exit_status() = run_serve(*args); });
}

}  // namespace synack::cli
