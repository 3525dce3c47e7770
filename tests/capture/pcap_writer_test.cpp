// SPDX-License-Identifier: MIT
#include "synack/pcap.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/fake_hosts.hpp"
#include "synack/sim_network.hpp"

namespace synack::capture {
using namespace synack::capture;
using namespace synack::sim;
namespace {

using testing::EchoHost;
using testing::make_packet;
using testing::SinkHost;
using testing::v4;

const wire::IpAddress kAddrA = v4(10, 0, 0, 1);
const wire::IpAddress kAddrB = v4(10, 0, 0, 2);

// A file in the test temp directory, unique per test and process, removed afterwards.
class TempPath {
 public:
  explicit TempPath(const std::string& stem) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = ::testing::TempDir() + "synack_" + stem + "_" + info->name() + "_" +
            std::to_string(::getpid()) + ".pcap";
  }
  ~TempPath() { std::filesystem::remove(path_); }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

struct Record {
  std::int64_t unix_us;
  std::uint32_t caplen;
  std::uint32_t len;
  std::vector<std::byte> bytes;
};

std::vector<Record> read_pcap(const std::string& path, int* datalink = nullptr) {
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t* handle = pcap_open_offline(path.c_str(), errbuf);
  EXPECT_NE(handle, nullptr) << errbuf;
  if (handle == nullptr) return {};
  if (datalink != nullptr) *datalink = pcap_datalink(handle);
  std::vector<Record> records;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(handle, &header, &data) == 1) {
    const auto* first = reinterpret_cast<const std::byte*>(data);
    records.push_back(
        Record{static_cast<std::int64_t>(header->ts.tv_sec) * 1'000'000 + header->ts.tv_usec,
               header->caplen, header->len, std::vector<std::byte>(first, first + header->caplen)});
  }
  pcap_close(handle);
  return records;
}

TEST(PcapWriter, RecordsReadBackWithTheirTimestamps) {
  TempPath path("writer");
  const auto p0 = make_packet(kAddrA, kAddrB, 0);
  const auto p1 = make_packet(kAddrB, kAddrA, 1, 300);
  const auto p2 = make_packet(kAddrA, kAddrB, 2, 1400);
  {
    std::string error;
    auto writer = PcapWriter::open(path.str(), &error);
    ASSERT_NE(writer, nullptr) << error;
    writer->write(p0, instant_from_us(0));
    writer->write(p1, instant_from_us(1'500'000));
    writer->write(p2, instant_from_us(2'000'001));
    EXPECT_EQ(writer->packets_written(), 3u);
  }
  int datalink = -1;
  const auto records = read_pcap(path.str(), &datalink);
  EXPECT_EQ(datalink, DLT_RAW);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].unix_us, kPcapDefaultEpochUs);
  EXPECT_EQ(records[1].unix_us, kPcapDefaultEpochUs + 1'500'000);
  EXPECT_EQ(records[2].unix_us, kPcapDefaultEpochUs + 2'000'001);
  EXPECT_EQ(records[0].bytes, p0);
  EXPECT_EQ(records[1].bytes, p1);
  EXPECT_EQ(records[2].bytes, p2);
  EXPECT_EQ(records[2].len, p2.size());
}

TEST(PcapWriter, DefaultEpochIsNewYear2026) {
  // 2026-01-01T00:00:00Z; date -ud @1767225600.
  EXPECT_EQ(kPcapDefaultEpochUs, 1'767'225'600LL * 1'000'000);
}

TEST(PcapWriter, FlushMakesRecordsVisibleWhileOpen) {
  TempPath path("flush");
  auto writer = PcapWriter::open(path.str(), nullptr, /*unix_us_at_zero=*/0);
  ASSERT_NE(writer, nullptr);
  writer->write(make_packet(kAddrA, kAddrB, 0), instant_from_us(42));
  writer->flush();
  const auto records = read_pcap(path.str());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].unix_us, 42);
}

TEST(PcapWriter, NegativeInstantsKeepMicrosecondsInRange) {
  TempPath path("negative");
  {
    auto writer = PcapWriter::open(path.str(), nullptr, 10'000'000);
    ASSERT_NE(writer, nullptr);
    writer->write(make_packet(kAddrA, kAddrB, 0), instant_from_us(-1));
  }
  const auto records = read_pcap(path.str());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].unix_us, 9'999'999);
}

TEST(PcapWriter, PacketsBeyondTheSnaplengthAreTruncatedInTheFile) {
  TempPath path("snaplen");
  std::vector<std::byte> big(70'000, std::byte{0x45});
  {
    auto writer = PcapWriter::open(path.str(), nullptr);
    ASSERT_NE(writer, nullptr);
    writer->write(big, instant_from_us(0));
  }
  const auto records = read_pcap(path.str());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].caplen, 65535u);
  EXPECT_EQ(records[0].len, 70'000u);
}

TEST(PcapWriter, OpenFailureReportsAnError) {
  std::string error;
  auto writer = PcapWriter::open("/nonexistent-directory/x.pcap", &error);
  EXPECT_EQ(writer, nullptr);
  EXPECT_FALSE(error.empty());
}

TEST(SimNetworkCapture, EveryPacketIsCapturedAsSentAtItsSendTime) {
  TempPath path("sim");
  SimNetwork net(17);
  SinkHost client;
  EchoHost server;
  const HostId c = net.add_host(client, {kAddrA}, "client");
  const HostId s = net.add_host(server, {kAddrB}, "server");
  net.set_link(c, s, LinkParams{.delay = 2ms, .corrupt = 1.0});  // every request corrupted
  net.set_link(s, c, LinkParams{.delay = 3ms, .loss = 0.5});
  std::string error;
  ASSERT_TRUE(net.capture_to(path.str(), &error)) << error;

  std::vector<std::vector<std::byte>> sent;
  for (std::uint32_t i = 0; i < 10; ++i) {
    sent.push_back(make_packet(kAddrA, kAddrB, i, 20));
    client.queue(sent.back());
    net.run_for(1ms);  // requests leave at 0, 1, ..., 9 ms
  }
  client.queue(make_packet(kAddrA, v4(192, 0, 2, 1), 99));  // unroutable, still captured
  net.run_for(100ms);
  net.stop_capture();

  const auto records = read_pcap(path.str());
  // 10 requests, 10 echoes of the (corrupted) requests, 1 unroutable.
  ASSERT_EQ(records.size(), 21u);
  EXPECT_EQ(net.counters().packets_sent, 21u);
  std::size_t requests = 0;
  for (const auto& r : records) {
    const auto at_us = r.unix_us - kPcapDefaultEpochUs;
    if (r.bytes[19] == std::byte{2}) {  // to the server: captured uncorrupted at send time
      EXPECT_EQ(r.bytes, sent[requests]);
      EXPECT_EQ(at_us, static_cast<std::int64_t>(requests) * 1000);
      ++requests;
    } else if (r.bytes[19] == std::byte{1}) {
      // An echo leaves when the request arrives (2 ms after it was sent); these carry the
      // corruption, because the server echoed corrupted bytes.
      EXPECT_EQ(at_us % 1000, 0);
      EXPECT_GE(at_us, 2000);
    }
  }
  EXPECT_EQ(requests, 10u);
  const auto unroutable = std::find_if(records.begin(), records.end(), [](const Record& r) {
    return r.bytes[16] == std::byte{192};
  });
  ASSERT_NE(unroutable, records.end());
  EXPECT_EQ(unroutable->unix_us - kPcapDefaultEpochUs, 10'000);
  // Records are in send order, so their timestamps never go backwards.
  for (std::size_t i = 1; i < records.size(); ++i) {
    EXPECT_LE(records[i - 1].unix_us, records[i].unix_us);
  }
}

TEST(SimNetworkCapture, CaptureToAnUnwritablePathFails) {
  SimNetwork net(1);
  std::string error;
  EXPECT_FALSE(net.capture_to("/nonexistent-directory/x.pcap", &error));
  EXPECT_FALSE(error.empty());
}

// Runs `command`, returning its exit status and stdout.
int run_command(const std::string& command, std::string* output) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SimNetworkCapture, TsharkReadsTheCaptureWithoutComplaint) {
  std::string ignored;
  if (run_command("command -v tshark >/dev/null 2>&1", &ignored) != 0) {
    GTEST_SKIP() << "tshark is not installed";
  }
  TempPath path("tshark");
  {
    SimNetwork net(1);
    SinkHost client;
    EchoHost server;
    net.add_host(client, {kAddrA}, "client");
    net.add_host(server, {kAddrB}, "server");
    ASSERT_TRUE(net.capture_to(path.str()));
    for (std::uint32_t i = 0; i < 5; ++i) client.queue(make_packet(kAddrA, kAddrB, i, 50));
    net.run_for(10ms);
  }  // the network closes the capture
  std::string output;
  const int status = run_command(
      "tshark -n -r '" + path.str() +
          "' -T fields -e frame.time_epoch -e ip.src -e ip.dst -e udp.dstport -e _ws.malformed"
          " 2>/dev/null",
      &output);
  ASSERT_EQ(status, 0) << output;
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = output.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(output.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 10u) << output;
  EXPECT_EQ(lines[0].rfind("1767225600.000000000\t10.0.0.1\t10.0.0.2\t7", 0), 0u) << lines[0];
  EXPECT_EQ(lines[5].rfind("1767225600.001000000\t10.0.0.2\t10.0.0.1", 0), 0u) << lines[5];
  EXPECT_EQ(output.find("alformed"), std::string::npos) << output;
  // The last field, _ws.malformed, is empty unless the dissector found the packet malformed.
  for (const auto& line : lines) EXPECT_EQ(line.back(), '\t') << "malformed: " << line;
}

}  // namespace
}  // namespace synack::capture
