// SPDX-License-Identifier: MIT
// A small HTTP/1.1 server (RFC 9112 message syntax, RFC 9110 semantics) for `synack serve`:
//
//   GET|HEAD /           a short HTML page
//   GET|HEAD /bytes/N    N bytes of a fixed pattern: byte i is i mod 251
//   PUT|POST any path    the body (Content-Length or chunked) is read and answered with
//                        "length=N sha256=HEX\n"
//
// Persistent connections (RFC 9112 §9.3): HTTP/1.1 keeps the connection unless "Connection:
// close"; HTTP/1.0 closes unless "Connection: keep-alive". "Expect: 100-continue" is answered
// with 100 Continue. Requests are served one at a time: while a response is being written,
// nothing more is read, so a pipelining client meets TCP flow control, never an unbounded
// buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/serve_apps.hpp"
#include "apps/sha256.hpp"

namespace synack::apps {

struct HttpRequest {
  std::string method;
  std::string target;
  int minor_version = 1;  // HTTP/1.x
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;
};

enum class HeadParse : std::uint8_t { Incomplete, Done, Bad };

// Parses a request head (request line and header fields up to the empty line; CRLF or bare LF)
// from the start of `data`. Done: *consumed is the head's length. Bad: a malformed request
// line or header field, an unsupported version, a bad or conflicting Content-Length, or a
// Transfer-Encoding other than chunked (RFC 9112 §6.1, §6.3).
HeadParse parse_request_head(std::string_view data, HttpRequest& request, std::size_t* consumed);

// RFC 9112 §7.1 chunked transfer coding, incrementally: feed() takes any split of the input.
class ChunkedDecoder {
 public:
  using Sink = std::function<void(std::span<const std::byte>)>;
  // Consumes input up to the end of the body (or a syntax error) and passes chunk data to
  // `sink`. Returns how many bytes of `in` were consumed.
  std::size_t feed(std::span<const std::byte> in, const Sink& sink);
  bool done() const { return state_ == State::Done; }
  bool failed() const { return state_ == State::Failed; }

 private:
  enum class State : std::uint8_t {
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    FinalLf,
    Done,
    Failed
  };
  State state_ = State::Size;
  std::uint64_t size_ = 0;
  bool have_digit_ = false;
};

// The byte at offset `i` of GET /bytes/N.
constexpr std::uint8_t pattern_byte(std::uint64_t i) { return static_cast<std::uint8_t>(i % 251); }

class HttpSession final : public Session {
 public:
  HttpSession(Stack& stack, ConnectionId id);
  void on_event(std::uint8_t events, Instant now) override;
  void stop(Instant now) override;

  static constexpr std::size_t kMaxHead = 16 * 1024;

 private:
  enum class Phase : std::uint8_t { Head, Body, Respond };
  void pump(Instant now);
  // Each returns false when it must wait (or the session ended).
  bool read_head(Instant now);
  bool read_body(Instant now);
  bool write_response(Instant now);
  bool send_all(std::string_view data, std::size_t& sent, Instant now);
  void start_request(const HttpRequest& request);
  void feed_body(std::span<const std::byte>& data);
  // Prepares a response; with `pattern_length`, the body is that many pattern bytes.
  void respond(int status, std::string_view reason, std::string_view content_type,
               std::string_view body, bool close, std::string_view extra_headers = {},
               std::optional<std::uint64_t> pattern_length = std::nullopt);
  void finish_body();

  Phase phase_ = Phase::Head;
  std::string in_;  // bytes read but not yet parsed (a request head, pipelined data)
  std::vector<std::byte> scratch_;
  bool stopping_ = false;
  bool peer_eof_ = false;

  // The request being served.
  HttpRequest request_;
  std::uint64_t body_remaining_ = 0;  // Content-Length bodies
  ChunkedDecoder chunked_;
  Sha256 sha_;
  std::uint64_t body_length_ = 0;
  std::string continue_;  // "100 Continue" still to send
  std::size_t continue_sent_ = 0;

  // The response being written.
  std::string response_head_;  // head, and a short body with it
  std::size_t head_sent_ = 0;
  std::uint64_t pattern_length_ = 0;
  std::uint64_t pattern_sent_ = 0;
  bool head_only_ = false;
  bool close_after_ = false;
};

}  // namespace synack::apps
