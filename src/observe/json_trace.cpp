// SPDX-License-Identifier: MIT
#include "observe/json_trace.hpp"

#include <nlohmann/json.hpp>

#include "observe/ladder.hpp"

namespace synack::observe {

namespace {

// One object per line. Invalid UTF-8 in a label becomes U+FFFD instead of an exception.
void write_line(std::FILE* file, const nlohmann::ordered_json& object) {
  std::string line = object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), file);
}

}  // namespace

JsonTraceWriter::JsonTraceWriter(const std::string& path, bool segments) : segments_(segments) {
  if (path == "-") {
    file_ = stdout;
  } else {
    file_ = std::fopen(path.c_str(), "w");
    owned_ = true;
  }
}

JsonTraceWriter::~JsonTraceWriter() {
  if (file_ && owned_)
    std::fclose(file_);
  else if (file_)
    std::fflush(file_);
}

void JsonTraceWriter::on_transition(const TransitionEvent& e) {
  if (!file_) return;
  nlohmann::ordered_json line;
  line["type"] = "transition";
  line["time_us"] = to_us(e.time);
  line["conn"] = e.connection;
  line["local"] = e.local.to_string();
  line["remote"] = e.remote.to_string();
  line["from"] = std::string(to_string(e.from));
  line["to"] = std::string(to_string(e.to));
  line["cause"] = std::string(e.cause);
  write_line(file_, line);
  std::fflush(file_);
}

void JsonTraceWriter::on_segment(const SegmentEvent& e) {
  if (!file_ || !segments_) return;
  const auto& h = e.header;
  nlohmann::ordered_json line;
  line["type"] = "segment";
  line["time_us"] = to_us(e.time);
  line["conn"] = e.connection;
  line["dir"] = e.direction == Direction::In ? "in" : "out";
  line["src"] = e.src.to_string();
  line["dst"] = e.dst.to_string();
  line["flags"] = wire::flags_to_string(h.flags);
  line["seq"] = h.seq;
  line["ack"] = h.ack;
  line["len"] = e.payload_length;
  line["win"] = h.window;
  line["options"] = options_label(h.options);
  line["retransmission"] = e.retransmission;
  write_line(file_, line);
}

void JsonTraceWriter::on_drop(const DropEvent& e) {
  if (!file_ || !segments_) return;
  nlohmann::ordered_json line;
  line["type"] = "drop";
  line["time_us"] = to_us(e.time);
  line["conn"] = e.connection;
  line["counter"] = std::string(e.counter);
  write_line(file_, line);
}

}  // namespace synack::observe
