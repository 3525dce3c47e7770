#include "observe/json_trace.hpp"

#include "observe/ladder.hpp"

namespace synack::observe {

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
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
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

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
  std::fprintf(file_,
               "{\"type\":\"transition\",\"time_us\":%lld,\"conn\":%llu,%s\"local\":\"%s\","
               "\"remote\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"cause\":\"%s\"}\n",
               static_cast<long long>(to_us(e.time)), static_cast<unsigned long long>(e.connection),
               label_.empty() ? "" : ("\"end\":\"" + json_escape(label_) + "\",").c_str(),
               e.local.to_string().c_str(), e.remote.to_string().c_str(),
               std::string(to_string(e.from)).c_str(), std::string(to_string(e.to)).c_str(),
               json_escape(e.cause).c_str());
  std::fflush(file_);
}

void JsonTraceWriter::on_segment(const SegmentEvent& e) {
  if (!file_ || !segments_) return;
  const auto& h = e.header;
  std::fprintf(file_,
               "{\"type\":\"segment\",\"time_us\":%lld,\"conn\":%llu,\"dir\":\"%s\",\"src\":\"%s\","
               "\"dst\":\"%s\",\"flags\":\"%s\",\"seq\":%u,\"ack\":%u,\"len\":%u,\"win\":%u,"
               "\"options\":\"%s\",\"retransmission\":%s}\n",
               static_cast<long long>(to_us(e.time)), static_cast<unsigned long long>(e.connection),
               e.direction == Direction::In ? "in" : "out", e.src.to_string().c_str(),
               e.dst.to_string().c_str(), wire::flags_to_string(h.flags).c_str(), h.seq, h.ack,
               e.payload_length, h.window, json_escape(options_label(h.options)).c_str(),
               e.retransmission ? "true" : "false");
}

void JsonTraceWriter::on_drop(const DropEvent& e) {
  if (!file_ || !segments_) return;
  std::fprintf(file_, "{\"type\":\"drop\",\"time_us\":%lld,\"conn\":%llu,\"counter\":\"%s\"}\n",
               static_cast<long long>(to_us(e.time)), static_cast<unsigned long long>(e.connection),
               json_escape(e.counter).c_str());
}

}  // namespace synack::observe
