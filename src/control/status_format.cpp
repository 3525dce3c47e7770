// SPDX-License-Identifier: MIT
#include "control/status_format.hpp"

#include <algorithm>
#include <cstdio>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace synack::control {
namespace {

// Builds one flat JSON object (nlohmann-json, keys in the order they are added).
class JsonLine {
 public:
  template <typename T>
  JsonLine& field(std::string_view key, const T& value) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>)
      object_[std::string(key)] = std::string(std::string_view(value));
    else
      object_[std::string(key)] = value;
    return *this;
  }
  JsonLine& null_field(std::string_view key) {
    object_[std::string(key)] = nullptr;
    return *this;
  }
  // Invalid UTF-8 (a command name, say) becomes U+FFFD rather than an exception.
  void end_into(std::string& dest) {
    if (object_.is_null()) object_ = nlohmann::ordered_json::object();
    dest += object_.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    dest += '\n';
  }

 private:
  nlohmann::ordered_json object_;
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
      .field("buffer_memory", std::uint64_t{s.buffer_memory})
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
      .field("undos", s.undos)
      .field("bytes_sent", s.bytes_sent)
      .field("bytes_acked", s.bytes_acked)
      .field("bytes_received", s.bytes_received)
      .field("sack", s.sack)
      .field("timestamps", s.timestamps)
      .field("window_scale", s.window_scale)
      .field("snd_wscale", std::uint64_t{s.snd_wscale})
      .field("rcv_wscale", std::uint64_t{s.rcv_wscale})
      .field("congestion", congestion_name(s.congestion))
      .field("pacing_rate", s.pacing_rate);
  if (s.bbr) {
    const auto& b = *s.bbr;
    line.field("bbr_mode", b.mode)
        .field("bbr_max_bw", b.max_bw)
        .field("bbr_bw", b.bw)
        .field("bbr_pacing_gain", b.pacing_gain)
        .field("bbr_cwnd_gain", b.cwnd_gain);
    if (b.min_rtt) line.field("bbr_min_rtt_us", us(*b.min_rtt));
    if (b.inflight_hi) line.field("bbr_inflight_hi", *b.inflight_hi);
    if (b.inflight_lo) line.field("bbr_inflight_lo", *b.inflight_lo);
  }
  line.field("detached", c.detached).end_into(out);
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

// Bytes per second as ss prints a rate: bits, "18.2Mbps", "1.2Gbps", "800bps".
std::string bits_per_second(std::uint64_t bytes_per_second) {
  const double bits = static_cast<double>(bytes_per_second) * 8;
  char buf[32];
  if (bits >= 1e9)
    std::snprintf(buf, sizeof buf, "%.1fGbps", bits / 1e9);
  else if (bits >= 1e6)
    std::snprintf(buf, sizeof buf, "%.1fMbps", bits / 1e6);
  else if (bits >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1fKbps", bits / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0fbps", bits);
  return buf;
}

// 1.25 -> "1.25", 2 -> "2".
std::string gain(double g) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", g);
  return buf;
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

}  // namespace

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
  line.object_ = nlohmann::json::parse(text, nullptr, false);
  if (line.object_.is_discarded() || !line.object_.is_object()) return std::nullopt;
  // The protocol's objects are flat: a nested object or array is not one of its lines.
  for (const auto& [key, value] : line.object_.items())
    if (value.is_structured()) return std::nullopt;
  return line;
}

std::string_view StatusLine::str(const std::string& key) const {
  auto it = object_.find(key);
  if (it == object_.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

std::uint64_t StatusLine::u64(const std::string& key, std::uint64_t fallback) const {
  auto it = object_.find(key);
  // nlohmann-json keeps non-negative integers as unsigned; negatives and fractions fall back.
  if (it == object_.end() || !it->is_number_unsigned()) return fallback;
  return it->get<std::uint64_t>();
}

bool StatusLine::boolean(const std::string& key) const {
  auto it = object_.find(key);
  return it != object_.end() && it->is_boolean() && it->get<bool>();
}

double StatusLine::number(const std::string& key, double fallback) const {
  auto it = object_.find(key);
  if (it == object_.end() || !it->is_number()) return fallback;
  return it->get<double>();
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
      // What the send and receive buffers hold now (ss -m shows it as skmem).
      d += " buffers:" + std::to_string(l.u64("buffer_memory"));
      // retrans:total/rto-expirations/fast-retransmits
      d += " retrans:" + std::to_string(l.u64("retransmits")) + "/" +
           std::to_string(l.u64("rto_expirations")) + "/" +
           std::to_string(l.u64("fast_retransmits"));
      // Loss responses undone as spurious (F-RTO, D-SACK, Eifel), like ss's "dsack_dups".
      if (l.u64("undos") > 0) d += " undo:" + std::to_string(l.u64("undos"));
      if (l.boolean("detached")) d += " orphan";
      // Linux's ss: "pacing_rate 1.2Gbps" and "bbr:(bw:...,mrtt:...,pacing_gain:...,
      // cwnd_gain:...)"; inflight_hi / inflight_lo (BBRv3's bounds) are synack's additions.
      if (l.u64("pacing_rate") > 0) d += " pacing_rate " + bits_per_second(l.u64("pacing_rate"));
      if (l.has("bbr_mode")) {
        d += " bbr:(" + std::string(l.str("bbr_mode")) + ",bw:" + bits_per_second(l.u64("bbr_bw"));
        d += ",max_bw:" + bits_per_second(l.u64("bbr_max_bw"));
        if (l.has("bbr_min_rtt_us")) d += ",mrtt:" + ms(l.u64("bbr_min_rtt_us"));
        d += ",pacing_gain:" + gain(l.number("bbr_pacing_gain"));
        d += ",cwnd_gain:" + gain(l.number("bbr_cwnd_gain"));
        if (l.has("bbr_inflight_hi"))
          d += ",inflight_hi:" + std::to_string(l.u64("bbr_inflight_hi"));
        if (l.has("bbr_inflight_lo"))
          d += ",inflight_lo:" + std::to_string(l.u64("bbr_inflight_lo"));
        d += ")";
      }
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
