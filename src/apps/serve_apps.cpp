// SPDX-License-Identifier: MIT
// Echo and discard sessions.
#include "apps/serve_apps.hpp"

namespace synack::apps {

void Session::close(Instant now) {
  if (done_) return;
  (void)stack_.close(id_, now);
  done_ = true;
}

bool Session::handle_failure(std::uint8_t events, Instant now) {
  if (!(events & (tcp::event::Reset | tcp::event::Closed))) return false;
  close(now);  // hands the dead connection back; the stack frees it
  return true;
}

EchoSession::EchoSession(Stack& stack, ConnectionId id) : Session(stack, id), buffer_(kChunk) {}

void EchoSession::on_event(std::uint8_t events, Instant now) {
  if (done_ || handle_failure(events, now)) return;
  pump(now);
}

void EchoSession::stop(Instant now) {
  stopping_ = true;
  if (!done_) pump(now);
}

void EchoSession::pump(Instant now) {
  while (!done_) {
    if (pending_begin_ < pending_end_) {
      auto pending = std::span<const std::byte>(buffer_).subspan(pending_begin_,
                                                                 pending_end_ - pending_begin_);
      auto sent = stack_.send(id_, pending, now);
      if (!sent) {
        if (sent.error() != Error::WouldBlock) close(now);
        return;  // WouldBlock: the Writable event brings us back
      }
      pending_begin_ += *sent;
      if (pending_begin_ < pending_end_) return;  // partial: wait for Writable, read no more
      pending_begin_ = pending_end_ = 0;
    }
    if (eof_ || stopping_) {
      // RFC 862 says nothing of the close; answer the peer's FIN with ours once all is echoed.
      close(now);
      return;
    }
    auto got = stack_.receive(id_, buffer_, now);
    if (!got) {
      if (got.error() != Error::WouldBlock) close(now);
      return;
    }
    if (*got == 0) {
      eof_ = true;
      continue;
    }
    pending_end_ = *got;
  }
}

DiscardSession::DiscardSession(Stack& stack, ConnectionId id)
    : Session(stack, id), buffer_(kChunk) {}

void DiscardSession::on_event(std::uint8_t events, Instant now) {
  if (done_ || handle_failure(events, now)) return;
  drain(now);
}

void DiscardSession::stop(Instant now) {
  if (done_) return;
  drain(now);
  close(now);
}

void DiscardSession::drain(Instant now) {
  while (!done_) {
    auto got = stack_.receive(id_, buffer_, now);
    if (!got) {
      if (got.error() != Error::WouldBlock) close(now);
      return;
    }
    if (*got == 0) {
      close(now);  // end of stream: close our side too
      return;
    }
  }
}

}  // namespace synack::apps
