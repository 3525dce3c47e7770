// SPDX-License-Identifier: MIT
// `synack forward add|remove|list` over the control socket: the server's half (in the
// processes that relay: synack run, synack attach, the slirp4netns front) and the requests.
//
//   "forward add SPEC"   SPEC as -p: [HOSTADDR:]HOSTPORT:PORT[/udp]
//                                          -> {"id": N, "proto": "tcp", "host": ..., ...}
//   "forward remove ID"                                         -> {"removed": ID}
//   "forward list"                                              -> {"forwards": [...]}
//   anything wrong                                              -> {"error": "..."}
#pragma once

#include "control/control_socket.hpp"
#include "relay/relay.hpp"

namespace synack::cli {

// The control server's handler for "forward ..." requests, acting on `relay` (which must
// outlive the server).
control::ControlServer::RequestHandler forward_request_handler(relay::Relay& relay);

}  // namespace synack::cli
