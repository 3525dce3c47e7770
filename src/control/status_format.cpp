#include "control/status_format.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

namespace synack::control {
namespace {

std::string_view congestion_name(CongestionAlgorithm c) {
  switch (c) {
    case CongestionAlgorithm::Cubic:
      return "cubic";
    case CongestionAlgorithm::NewReno:
      return "newreno";
  }
  return "?";
}

// Builds one flat JSON object.
class JsonLine {
 public:
  JsonLine& field(std::string_view key, std::string_view value) {
    key_(key);
    out_ += json_string(value);
    return *this;
  }
  JsonLine& field(std::string_view key, const char* value) {
    return field(key, std::string_view(value));
  }
  JsonLine& field(std::string_view key, std::uint64_t value) {
    key_(key);
    out_ += std::to_string(value);
    return *this;
  }
  JsonLine& field(std::string_view key, long value) {
    key_(key);
    out_ += std::to_string(value);
    return *this;
  }
  JsonLine& field(std::string_view key, bool value) {
    key_(key);
    out_ += value ? "true" : "false";
    return *this;
  }
  JsonLine& null_field(std::string_view key) {
    key_(key);
    out_ += "null";
    return *this;
  }
  void end_into(std::string& dest) {
    dest += out_.empty() ? "{" : out_;
    dest += "}\n";
  }

 private:
  void key_(std::string_view key) {
    out_ += out_.empty() ? "{" : ",";
    out_ += json_string(key);
    out_ += ':';
  }
  std::string out_;
};

JsonLine process_line(const ProcessInfo& p) {
  JsonLine line;
  line.field("type", "process").field("pid", p.pid).field("command", p.command);
  return line;
}

std::uint64_t us(Duration d) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count()));
}

void connection_line(std::string& out, long pid, const ConnectionInfo& c) {
  const tcp::ConnectionStatus& s = c.status;
  JsonLine line;
  line.field("type", "connection")
      .field("pid", pid)
      .field("id", static_cast<std::uint64_t>(c.id))
      .field("state", to_string(s.state))
      .field("local", c.local.to_string())
      .field("remote", c.remote.to_string())
      .field("recv_q", std::uint64_t{s.receive_queue})
      .field("send_q", std::uint64_t{s.send_queue})
      .field("snd_una", std::uint64_t{s.snd_una.raw()})
      .field("snd_nxt", std::uint64_t{s.snd_nxt.raw()})
      .field("snd_wnd", std::uint64_t{s.snd_wnd})
      .field("rcv_wnd", std::uint64_t{s.rcv_wnd})
      .field("cwnd", std::uint64_t{s.cwnd})
      .field("ssthresh", std::uint64_t{s.ssthresh})
      .field("mss", std::uint64_t{s.snd_mss});
  if (s.srtt)
    line.field("srtt_us", us(*s.srtt));
  else
    line.null_field("srtt_us");
  line.field("rttvar_us", us(s.rttvar))
      .field("rto_us", us(s.rto))
      .field("retransmits", s.retransmits)
      .field("rto_expirations", s.rto_expirations)
      .field("fast_retransmits", s.fast_retransmits)
      .field("bytes_sent", s.bytes_sent)
      .field("bytes_acked", s.bytes_acked)
      .field("bytes_received", s.bytes_received)
      .field("sack", s.sack)
      .field("timestamps", s.timestamps)
      .field("window_scale", s.window_scale)
      .field("snd_wscale", std::uint64_t{s.snd_wscale})
      .field("rcv_wscale", std::uint64_t{s.rcv_wscale})
      .field("congestion", congestion_name(s.congestion))
      .field("detached", c.detached)
      .end_into(out);
}

// 1234 µs -> "1.234", 200000 -> "200": milliseconds as `ss` prints them.
std::string ms(std::uint64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%03llu", static_cast<unsigned long long>(micros / 1000),
                static_cast<unsigned long long>(micros % 1000));
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string pad(std::string_view s, std::size_t width) {
  std::string out(s);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

const StatusLine* process_of(const std::vector<StatusLine>& answer) {
  for (const auto& l : answer)
    if (l.type() == "process") return &l;
  return nullptr;
}

// Parses a JSON string starting at text[i] == '"'; leaves i after the closing quote.
bool parse_string(std::string_view text, std::size_t& i, std::string& out) {
  if (i >= text.size() || text[i] != '"') return false;
  ++i;
  while (i < text.size()) {
    char c = text[i++];
    if (c == '"') return true;
    if (static_cast<unsigned char>(c) < 0x20) return false;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= text.size()) return false;
    char e = text[i++];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        if (i + 4 > text.size()) return false;
        unsigned code = 0;
        auto [p, ec] = std::from_chars(text.data() + i, text.data() + i + 4, code, 16);
        if (ec != std::errc{} || p != text.data() + i + 4) return false;
        i += 4;
        // We only ever escape control characters this way; anything else becomes '?'
        // (surrogate pairs are not needed for the counters' and addresses' text).
        out += code < 0x80 ? static_cast<char>(code) : '?';
        break;
      }
      default:
        return false;
    }
  }
  return false;
}

void skip_space(std::string_view text, std::size_t& i) {
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
    ++i;
}

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string connections_json(const ProcessInfo& process, const std::vector<ConnectionInfo>& list,
                             std::size_t limit) {
  std::string out;
  std::size_t shown = std::min(list.size(), limit);
  out.reserve(128 + shown * 640);
  process_line(process)
      .field("connections", static_cast<std::uint64_t>(list.size()))
      .field("truncated", list.size() > limit)
      .end_into(out);
  for (std::size_t i = 0; i < shown; ++i) connection_line(out, process.pid, list[i]);
  return out;
}

std::string counters_json(const ProcessInfo& process, const Counters& counters) {
  std::string out;
  process_line(process).end_into(out);
  counters.for_each([&](std::string_view name, std::uint64_t value, std::string_view description) {
    JsonLine()
        .field("type", "counter")
        .field("pid", process.pid)
        .field("name", name)
        .field("value", value)
        .field("description", description)
        .end_into(out);
  });
  return out;
}

std::string error_json(const ProcessInfo& process, std::string_view message) {
  std::string out;
  JsonLine()
      .field("type", "error")
      .field("pid", process.pid)
      .field("message", message)
      .end_into(out);
  return out;
}

std::optional<StatusLine> StatusLine::parse(std::string_view text) {
  StatusLine line;
  std::size_t i = 0;
  skip_space(text, i);
  if (i >= text.size() || text[i] != '{') return std::nullopt;
  ++i;
  skip_space(text, i);
  if (i < text.size() && text[i] == '}') return line;
  while (true) {
    skip_space(text, i);
    std::string key;
    if (!parse_string(text, i, key)) return std::nullopt;
    skip_space(text, i);
    if (i >= text.size() || text[i] != ':') return std::nullopt;
    ++i;
    skip_space(text, i);
    if (i >= text.size()) return std::nullopt;
    Field field{Field::Kind::Null, {}};
    char c = text[i];
    if (c == '"') {
      field.kind = Field::Kind::String;
      if (!parse_string(text, i, field.text)) return std::nullopt;
    } else if (text.substr(i, 4) == "true" || text.substr(i, 5) == "false") {
      field.kind = Field::Kind::Bool;
      field.text = c == 't' ? "true" : "false";
      i += c == 't' ? 4 : 5;
    } else if (text.substr(i, 4) == "null") {
      i += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      field.kind = Field::Kind::Number;
      std::size_t start = i;
      while (i < text.size() &&
             (text[i] == '-' || text[i] == '+' || text[i] == '.' || text[i] == 'e' ||
              text[i] == 'E' || (text[i] >= '0' && text[i] <= '9')))
        ++i;
      field.text = std::string(text.substr(start, i - start));
    } else {
      return std::nullopt;  // nested objects and arrays are not part of the protocol
    }
    line.fields_.insert_or_assign(std::move(key), std::move(field));
    skip_space(text, i);
    if (i >= text.size()) return std::nullopt;
    if (text[i] == ',') {
      ++i;
      continue;
    }
    if (text[i] != '}') return std::nullopt;
    ++i;
    skip_space(text, i);
    return i == text.size() ? std::optional<StatusLine>(std::move(line)) : std::nullopt;
  }
}

std::string_view StatusLine::str(const std::string& key) const {
  auto it = fields_.find(key);
  if (it == fields_.end() || it->second.kind != Field::Kind::String) return {};
  return it->second.text;
}

std::uint64_t StatusLine::u64(const std::string& key, std::uint64_t fallback) const {
  auto it = fields_.find(key);
  if (it == fields_.end() || it->second.kind != Field::Kind::Number) return fallback;
  const std::string& t = it->second.text;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || p != t.data() + t.size()) return fallback;
  return v;
}

bool StatusLine::boolean(const std::string& key) const {
  auto it = fields_.find(key);
  return it != fields_.end() && it->second.kind == Field::Kind::Bool && it->second.text == "true";
}

std::vector<StatusLine> parse_status_lines(std::string_view text) {
  std::vector<StatusLine> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty()) continue;
    if (auto parsed = StatusLine::parse(line)) out.push_back(std::move(*parsed));
  }
  return out;
}

std::string format_connections_text(const std::vector<std::vector<StatusLine>>& processes) {
  // Column widths grow to the widest entry, as ss does.
  std::size_t local_w = 20, remote_w = 20;
  for (const auto& answer : processes)
    for (const auto& l : answer)
      if (l.type() == "connection") {
        local_w = std::max(local_w, l.str("local").size() + 1);
        remote_w = std::max(remote_w, l.str("remote").size() + 1);
      }
  std::string out = pad("State", 13) + pad("Recv-Q", 7) + pad("Send-Q", 7) +
                    pad("Local Address:Port", local_w) + pad("Peer Address:Port", remote_w) +
                    "Process\n";
  for (const auto& answer : processes) {
    const StatusLine* proc = process_of(answer);
    std::string who = proc ? "synack-" + std::string(proc->str("command")) +
                                 ",pid=" + std::to_string(proc->u64("pid"))
                           : "synack";
    for (const auto& l : answer) {
      if (l.type() == "error") {
        out += "# " + who + ": " + std::string(l.str("message")) + "\n";
        continue;
      }
      if (l.type() != "connection") continue;
      out += pad(l.str("state"), 13) + pad(std::to_string(l.u64("recv_q")), 7) +
             pad(std::to_string(l.u64("send_q")), 7) + pad(l.str("local"), local_w) +
             pad(l.str("remote"), remote_w) + who + "\n";
      // The details line, in `ss -ti`'s order and spelling where it has one.
      std::uint64_t mss = std::max<std::uint64_t>(1, l.u64("mss", 1));
      std::string d = "\t ";
      d += std::string(l.str("congestion"));
      if (l.boolean("sack")) d += " sack";
      if (l.boolean("timestamps")) d += " ts";
      if (l.boolean("window_scale"))
        d += " wscale:" + std::to_string(l.u64("snd_wscale")) + "," +
             std::to_string(l.u64("rcv_wscale"));
      d += " rto:" + ms(l.u64("rto_us"));
      if (l.has("srtt_us") && l.u64("srtt_us", UINT64_MAX) != UINT64_MAX)
        d += " rtt:" + ms(l.u64("srtt_us")) + "/" + ms(l.u64("rttvar_us"));
      d += " mss:" + std::to_string(l.u64("mss"));
      d += " cwnd:" + std::to_string(l.u64("cwnd") / mss);
      // An ssthresh above 1 GiB is the "infinite" initial value: ss leaves it out too.
      std::uint64_t ssthresh = l.u64("ssthresh");
      if (ssthresh < (1ull << 30)) d += " ssthresh:" + std::to_string(ssthresh / mss);
      d += " bytes_sent:" + std::to_string(l.u64("bytes_sent"));
      d += " bytes_acked:" + std::to_string(l.u64("bytes_acked"));
      d += " bytes_received:" + std::to_string(l.u64("bytes_received"));
      d += " snd_wnd:" + std::to_string(l.u64("snd_wnd"));
      d += " rcv_wnd:" + std::to_string(l.u64("rcv_wnd"));
      // retrans:total/rto-expirations/fast-retransmits
      d += " retrans:" + std::to_string(l.u64("retransmits")) + "/" +
           std::to_string(l.u64("rto_expirations")) + "/" +
           std::to_string(l.u64("fast_retransmits"));
      if (l.boolean("detached")) d += " orphan";
      out += d + "\n";
    }
    if (proc && proc->boolean("truncated"))
      out += "# " + who + ": listing cut at " + std::to_string(kMaxListedConnections) + " of " +
             std::to_string(proc->u64("connections")) + " connections\n";
  }
  return out;
}

std::string format_counters_text(const std::vector<std::vector<StatusLine>>& processes, bool all) {
  std::string out;
  for (const auto& answer : processes) {
    const StatusLine* proc = process_of(answer);
    if (proc)
      out += "#pid " + std::to_string(proc->u64("pid")) + " synack " +
             std::string(proc->str("command")) + "\n";
    std::size_t name_w = 0;
    for (const auto& l : answer)
      if (l.type() == "counter") name_w = std::max(name_w, l.str("name").size());
    for (const auto& l : answer) {
      if (l.type() == "error") {
        out += "# error: " + std::string(l.str("message")) + "\n";
        continue;
      }
      if (l.type() != "counter") continue;
      std::uint64_t value = l.u64("value");
      if (value == 0 && !all) continue;
      out += pad(l.str("name"), name_w + 2) + pad(std::to_string(value), 12) +
             std::string(l.str("description")) + "\n";
    }
  }
  return out;
}

}  // namespace synack::control
