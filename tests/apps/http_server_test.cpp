// SPDX-License-Identifier: MIT
// `synack serve`'s HTTP pieces: request heads (RFC 9112 §3, §5, §6), the chunked transfer
// coding (RFC 9112 §7.1), and SHA-256 (FIPS 180-4 test vectors).
#include <gtest/gtest.h>

#include <string>

#include "apps/http_server.hpp"
#include "apps/sha256.hpp"

namespace synack::apps {
namespace {

HeadParse parse(std::string_view text, HttpRequest& r, std::size_t* consumed = nullptr) {
  std::size_t c = 0;
  auto status = parse_request_head(text, r, &c);
  if (consumed) *consumed = c;
  return status;
}

TEST(HttpHead, SimpleGet) {
  HttpRequest r;
  std::size_t consumed = 0;
  std::string text = "GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
  ASSERT_EQ(parse(text, r, &consumed), HeadParse::Done);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/bytes/10");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_FALSE(r.content_length);
  EXPECT_EQ(text.substr(consumed), "NEXT");
}

TEST(HttpHead, EveryPrefixIsIncomplete) {
  std::string text = "PUT /x HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  HttpRequest r;
  for (std::size_t cut = 0; cut < text.size(); ++cut)
    EXPECT_EQ(parse(text.substr(0, cut), r), HeadParse::Incomplete) << cut;
  ASSERT_EQ(parse(text, r), HeadParse::Done);
  EXPECT_EQ(r.content_length, 5u);
  EXPECT_TRUE(r.expect_continue);
}

TEST(HttpHead, BareLineFeedsAndLeadingEmptyLines_Rfc9112_2_2) {
  HttpRequest r;
  ASSERT_EQ(parse("\r\n\nGET / HTTP/1.0\nConnection: keep-alive\n\n", r), HeadParse::Done);
  EXPECT_EQ(r.minor_version, 0);
  EXPECT_TRUE(r.keep_alive);
}

TEST(HttpHead, PersistenceDefaults_Rfc9112_9_3) {
  HttpRequest r;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", r), HeadParse::Done);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n", r), HeadParse::Done);
  EXPECT_FALSE(r.keep_alive);
}

TEST(HttpHead, ChunkedOverridesContentLengthAndCloses_Rfc9112_6_3) {
  HttpRequest r;
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", r),
            HeadParse::Done);
  EXPECT_TRUE(r.chunked);
  EXPECT_FALSE(r.content_length);
  EXPECT_FALSE(r.keep_alive);
}

TEST(HttpHead, Malformed) {
  HttpRequest r;
  for (const char* bad : {
           "GET /\r\n\r\n",                                 // no version
           "GET / HTTP/2.0\r\n\r\n",                        // unsupported version
           "GET  / HTTP/1.1\r\n\r\n",                       // empty target
           "G(T / HTTP/1.1\r\n\r\n",                        // method not a token
           "GET / HTTP/1.1\r\nHost : x\r\n\r\n",            // space before the colon
           "GET / HTTP/1.1\r\nNoColon\r\n\r\n",             //
           "GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n",    // obs-fold
           "PUT / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",  //
           "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "PUT / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
           "PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
           "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       })
    EXPECT_EQ(parse(bad, r), HeadParse::Bad) << bad;
  ASSERT_EQ(parse("PUT / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n", r), HeadParse::Done);
  EXPECT_EQ(r.content_length, 7u);
}

std::string decode_all(std::string_view body, std::size_t piece, bool* done, std::size_t* used) {
  ChunkedDecoder d;
  std::string out;
  *used = 0;
  while (*used < body.size() && !d.done() && !d.failed()) {
    auto part = std::as_bytes(std::span(body.data() + *used, std::min(piece, body.size() - *used)));
    *used += d.feed(part, [&](std::span<const std::byte> data) {
      out.append(reinterpret_cast<const char*>(data.data()), data.size());
    });
  }
  *done = d.done();
  return out;
}

TEST(Chunked, DecodesAcrossAnySplit_Rfc9112_7_1) {
  std::string body = "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (std::size_t piece = 1; piece <= body.size(); ++piece) {
    bool done = false;
    std::size_t used = 0;
    EXPECT_EQ(decode_all(body, piece, &done, &used), "hello 0123456789") << piece;
    EXPECT_TRUE(done);
    EXPECT_EQ(body.substr(used), "NEXT") << piece;
  }
}

TEST(Chunked, Errors) {
  for (const char* bad :
       {"x\r\n", "\r\n", "5\r\nhelloX", "5\r\nhello\rX", "0\r\n\rX", "fffffffffffffffffff\r\n"}) {
    ChunkedDecoder d;
    std::string_view s(bad);
    d.feed(std::as_bytes(std::span(s.data(), s.size())), [](std::span<const std::byte>) {});
    EXPECT_TRUE(d.failed()) << bad;
  }
}

TEST(Pattern, ByteIIsIMod251) {
  EXPECT_EQ(pattern_byte(0), 0);
  EXPECT_EQ(pattern_byte(250), 250);
  EXPECT_EQ(pattern_byte(251), 0);
  EXPECT_EQ(pattern_byte(1000000), 1000000 % 251);
}

std::string sha_hex(std::string_view s) {
  Sha256 h;
  h.update(std::as_bytes(std::span(s.data(), s.size())));
  return h.hex();
}

TEST(Sha256, Fips180Vectors) {
  EXPECT_EQ(sha_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(std::as_bytes(std::span(a.data(), a.size())));
  EXPECT_EQ(million.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecewiseEqualsWhole) {
  std::string data;
  for (int i = 0; i < 5000; ++i) data += static_cast<char>(i * 31 + i / 7);
  std::string whole = sha_hex(data);
  for (std::size_t piece : {1u, 3u, 63u, 64u, 65u, 1000u}) {
    Sha256 h;
    for (std::size_t at = 0; at < data.size(); at += piece)
      h.update(std::as_bytes(std::span(data.data() + at, std::min(piece, data.size() - at))));
    EXPECT_EQ(h.hex(), whole) << piece;
  }
}

}  // namespace
}  // namespace synack::apps
