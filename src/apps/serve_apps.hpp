// SPDX-License-Identifier: MIT
// The applications `synack serve` runs on accepted connections: echo (RFC 862), discard
// (RFC 863) and a small HTTP/1.1 server (http_server.hpp). Each is a Session driven by the
// connection's events; none buffers without bound: when send() takes less than offered, a
// session stops reading until the Writable event, so the peer meets a closing TCP window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "synack/stack.hpp"

namespace synack::apps {

// How much a session reads from or writes to its connection in one call.
inline constexpr std::size_t kChunk = 64 * 1024;

class Session {
 public:
  Session(Stack& stack, ConnectionId id) : stack_(stack), id_(id) {}
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The connection's event bits (tcp::event), or 0 just to make progress (after accept).
  virtual void on_event(std::uint8_t events, Instant now) = 0;
  // Graceful stop: take no new work, close once what is in hand is written.
  virtual void stop(Instant now) = 0;
  // The session has handed its connection back to the stack (closed or aborted): forget it.
  bool done() const { return done_; }
  ConnectionId id() const { return id_; }

 protected:
  // Full close (FIN after queued data; the stack finishes it). Idempotent.
  void close(Instant now);
  // For Reset/Closed events: the connection failed or finished; release it.
  bool handle_failure(std::uint8_t events, Instant now);

  Stack& stack_;
  ConnectionId id_;
  bool done_ = false;
};

// RFC 862: "Once a connection is established any data received is sent back."
class EchoSession final : public Session {
 public:
  EchoSession(Stack& stack, ConnectionId id);
  void on_event(std::uint8_t events, Instant now) override;
  void stop(Instant now) override;

 private:
  void pump(Instant now);
  std::vector<std::byte> buffer_;
  std::size_t pending_begin_ = 0, pending_end_ = 0;  // received, not yet taken by send()
  bool eof_ = false;
  bool stopping_ = false;
};

// RFC 863: "Once a connection is established any data received is thrown away."
class DiscardSession final : public Session {
 public:
  DiscardSession(Stack& stack, ConnectionId id);
  void on_event(std::uint8_t events, Instant now) override;
  void stop(Instant now) override;

 private:
  void drain(Instant now);
  std::vector<std::byte> buffer_;
};

}  // namespace synack::apps
