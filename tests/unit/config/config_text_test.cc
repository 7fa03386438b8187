// ParseConfigText (the text entry point LoadConfigFile uses) and the errors of
// config_fuzzer's findings: every error line names the file, whatever the config holds.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "daemon/config/config.h"

namespace pktpool::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Every line of a refusal starts with "SOURCE:".
void ExpectEveryLineNames(const absl::Status& status, const std::string& source) {
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    EXPECT_TRUE(absl::StartsWith(line, source + ":")) << "line: " << line;
  }
}

TEST(ParseConfigText, LoadsAValidConfig) {
  auto config = ParseConfigText(
      "bindings { interface: \"veth0\" options { snaplen: 2048 } }\nstatus_interval_seconds: 7\n",
      "text");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bindings(0).options().snaplen(), 2048u);
  EXPECT_EQ(config->status_interval_seconds(), 7u);
}

TEST(ParseConfigText, NamesTheSourceAndLine) {
  auto config = ParseConfigText("status_interval_seconds: 5\nlimits { max_frames_per_batch: 0 "
                                "max_concurrent_streams: 10001 }\n",
                                "my.textproto");
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("my.textproto:2: limits.max_concurrent_streams: 10001 exceeds 10000"));
}

// fuzz (config_fuzzer, crash-newline-in-interface-name): a newline in an interface name
// split the error, and its second line did not name the file.
TEST(ParseConfigText, AnInterfaceNameWithANewlineStaysOnItsErrorLine) {
  const absl::Status status =
      ParseConfigText("bindings { interface: \"a\\nfake.textproto:1: all is well\" }\n"
                      "bindings { interface: \"b\\n\" }\nbindings { interface: \"b\\n\" }\n",
                      "real.textproto")
          .status();
  ExpectEveryLineNames(status, "real.textproto");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("real.textproto:1: bindings[0].interface: \"a\\nfake.textproto:1: all is "
                        "well\" has 31 characters"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("real.textproto:3: bindings[2].interface: \"b\\n\" is already bound"));
}

TEST(ParseConfigText, AnAddressWithControlCharactersIsEscapedInItsError) {
  const absl::Status status =
      ParseConfigText("listen { tcp_address: \"0.0.0.0\\r\\n:1\\t\" }\n"
                      "metrics { listen_address: \"host\\n\" }\n",
                      "real.textproto")
          .status();
  ExpectEveryLineNames(status, "real.textproto");
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("\r")));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("\t")));
}

TEST(ParseHostPort, EscapesWhatItQuotes) {
  const absl::Status status = ParseHostPort("[::1]:5\n0", false).status();
  EXPECT_EQ(status.message(), "\"[::1]:5\\n0\": port \"5\\n0\" is not a number 1 to 65535");
}

}  // namespace
}  // namespace pktpool::config
