// SPDX-License-Identifier: MIT
// What `synack ss` and `synack stats` show, in both directions of the control socket:
//
//   process side:  Stack -> JSON lines (connections_json, counters_json)
//   client side:   JSON lines -> StatusLine (parse_status_line) -> text like `ss -ti` / `nstat`
//
// Each answer is a "process" line, then one line per connection or counter, all flat JSON
// objects (no nesting), written and read with nlohmann-json:
//
//   {"type":"process","pid":42,"command":"serve","connections":1,"truncated":false}
//   {"type":"connection","pid":42,"id":3,"state":"ESTABLISHED","local":"198.18.0.1:7",...}
//   {"type":"counter","pid":42,"name":"tcp_passive_opens","value":1,"description":"..."}
//   {"type":"error","pid":42,"message":"unknown request"}
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "synack/stack.hpp"

namespace synack::control {

// Most connections one answer lists; the process line says "truncated":true beyond it.
inline constexpr std::size_t kMaxListedConnections = 10000;

struct ProcessInfo {
  long pid = 0;
  std::string command;  // "serve", "connect"
};

// The answer to `ss`: the process line and one line per connection (at most `limit`).
std::string connections_json(const ProcessInfo& process, const std::vector<ConnectionInfo>& list,
                             std::size_t limit = kMaxListedConnections);
// The answer to `stats`: the process line and one line per counter (all of them; the client
// filters).
std::string counters_json(const ProcessInfo& process, const Counters& counters);
// The answer to a request we do not know.
std::string error_json(const ProcessInfo& process, std::string_view message);

// One parsed line: a flat object of strings, numbers (kept as their text), booleans, nulls.
class StatusLine {
 public:
  // nullopt when `line` is not a flat JSON object.
  static std::optional<StatusLine> parse(std::string_view line);

  std::string_view type() const { return str("type"); }
  bool has(const std::string& key) const { return object_.contains(key); }
  // "" when missing or not a string.
  std::string_view str(const std::string& key) const;
  // `fallback` when missing, null, or not a non-negative integer.
  std::uint64_t u64(const std::string& key, std::uint64_t fallback = 0) const;
  bool boolean(const std::string& key) const;
  // `fallback` when missing or not a number.
  double number(const std::string& key, double fallback = 0) const;

 private:
  nlohmann::json object_;
};

// Every line of an answer that parses; the rest are skipped.
std::vector<StatusLine> parse_status_lines(std::string_view text);

// `ss -ti`-like text: the column header, then per connection a line "State Recv-Q Send-Q
// Local Peer Process" and an indented details line. `processes` are the answers of several
// processes, already parsed.
std::string format_connections_text(const std::vector<std::vector<StatusLine>>& processes);
// `nstat`-like text: per process a "#pid N synack COMMAND" line, then "name value
// description" for each counter (only the non-zero ones unless `all`).
std::string format_counters_text(const std::vector<std::vector<StatusLine>>& processes, bool all);

}  // namespace synack::control
