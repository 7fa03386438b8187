// pktpool-extcap end to end. Without root: the extcap protocol lines, the filter check and
// the failures without a daemon. With root: pktpoold in a namespace of the test's own,
// tshark finding pktpool-extcap in its extcap folder (a private bind mount) and capturing a
// binding, frames sent on the other veth end and compared byte for byte.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/extcap/extcap_protocol.h"
#include "pktpool/v1/pktpool.grpc.pb.h"
#include "tests/support/namespace_test.h"
#include "tests/support/process.h"
#include "tests/support/test_frame.h"

namespace pktpool {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;

const std::string kExtcapLine = absl::StrCat("extcap {version=", PKTPOOL_PROJECT_VERSION, "}");

// What a capture file (pcap or pcapng) holds, read through libpcap.
struct CaptureFile {
  bool opened = false;
  int link_type = -1;
  std::vector<std::string> frames;
  std::vector<int64_t> timestamps_ns;
};

CaptureFile ReadCaptureFile(const std::string& path) {
  CaptureFile file;
  char error[PCAP_ERRBUF_SIZE];
  pcap_t* pcap =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, error);
  if (pcap == nullptr) return file;
  file.opened = true;
  file.link_type = pcap_datalink(pcap);
  pcap_pkthdr* header;
  const u_char* data;
  while (pcap_next_ex(pcap, &header, &data) == 1) {
    file.frames.emplace_back(reinterpret_cast<const char*>(data), header->caplen);
    file.timestamps_ns.push_back(static_cast<int64_t>(header->ts.tv_sec) * 1'000'000'000 +
                                 header->ts.tv_usec);
  }
  pcap_close(pcap);
  return file;
}

// A test frame of another EtherType (0x88B6), which `ether proto 0x88b5` leaves out.
std::string OtherFrame(uint32_t sequence, size_t size) {
  std::string frame = testing::TestFrame<std::string>(sequence, size);
  frame[13] = static_cast<char>(0xB6);
  return frame;
}

std::string TempDir(const std::string& what) {
  static int counter = 0;
  const std::string dir = absl::StrCat("/tmp/pktpool-extcap-", what, "-", getpid(), "-", counter++);
  std::filesystem::create_directories(dir);
  return dir;
}

// pktpool-extcap with PKTPOOL_SOCKET=`socket` (and no PKTPOOL_TARGET).
std::vector<std::string> ExtcapArgv(const std::string& socket, std::vector<std::string> args) {
  std::vector<std::string> argv = {"env", "-u", "PKTPOOL_TARGET", "PKTPOOL_SOCKET=" + socket,
                                   PKTPOOL_EXTCAP_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// ---- the extcap protocol, without a daemon ------------------------------------------

TEST(ExtcapProtocolTest, InterfaceNamesRoundTripAndOddOnesAreRefused) {
  EXPECT_EQ(extcap::BindingOfInterface("pktpool:eth1"), "eth1");
  EXPECT_EQ(extcap::InterfaceOfBinding("eth1"), "pktpool:eth1");
  EXPECT_EQ(extcap::BindingOfInterface("eth1"), std::nullopt);
  EXPECT_EQ(extcap::BindingOfInterface("pktpool:"), std::nullopt);
  EXPECT_EQ(extcap::BindingOfInterface("other:eth1"), std::nullopt);
  EXPECT_EQ(extcap::BindingOfInterface("pktpool:a}b"), std::nullopt);
  EXPECT_EQ(extcap::InterfaceLines({"eth1", "bad{name", "veth0"}),
            "interface {value=pktpool:eth1}{display=pktpool eth1 (through pktpoold)}\n"
            "interface {value=pktpool:veth0}{display=pktpool veth0 (through pktpoold)}\n");
  EXPECT_EQ(extcap::DltLines(), "dlt {number=1}{name=EN10MB}{display=Ethernet}\n");
}

TEST(ExtcapProtocolTest, ConfigHasEveryArgumentWithATooltipAndTheDefaults) {
  const std::string config = extcap::ConfigLines({"/tmp/x.sock", "host:50051"});
  std::vector<std::string> lines = absl::StrSplit(config, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 8u) << config;
  const char* const calls[] = {"--socket", "--target", "--tls",         "--ca",
                               "--cert",   "--key",    "--server-name", "--snaplen"};
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_TRUE(
        absl::StartsWith(lines[i], absl::StrCat("arg {number=", i, "}{call=", calls[i], "}")))
        << lines[i];
    EXPECT_NE(lines[i].find("{tooltip="), std::string::npos) << lines[i];
  }
  EXPECT_NE(lines[0].find("{type=fileselect}"), std::string::npos);
  EXPECT_NE(lines[0].find("{default=/tmp/x.sock}"), std::string::npos);
  EXPECT_NE(lines[1].find("{default=host:50051}"), std::string::npos);
  for (int i = 3; i <= 5; ++i) EXPECT_NE(lines[i].find("{type=fileselect}"), std::string::npos);
  // No default line when there is none.
  EXPECT_EQ(extcap::ConfigLines({"/tmp/x.sock", ""})
                .find("{call=--target}{display=TCP target}"
                      "{type=string}{default="),
            std::string::npos);
}

TEST(ExtcapProtocolTest, FilterErrorIsLibpcapsReason) {
  EXPECT_EQ(extcap::FilterError(""), "");
  EXPECT_EQ(extcap::FilterError("ether proto 0x88b5 and not udp"), "");
  EXPECT_NE(extcap::FilterError("not a filter (("), "");
}

TEST(ExtcapCliTest, WithoutADaemonInterfacesListOnlyTheExtcapLineAndExitZero) {
  const absl::Time start = absl::Now();
  CommandResult listed = RunCommand(
      ExtcapArgv("/nonexistent/pktpoold.sock", {"--extcap-interfaces", "--extcap-version=4.0"}),
      absl::Seconds(20));
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  std::vector<std::string> lines = absl::StrSplit(listed.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << listed.out;
  EXPECT_TRUE(absl::StartsWith(lines[0], kExtcapLine)) << lines[0];
  EXPECT_NE(listed.err.find("/nonexistent/pktpoold.sock"), std::string::npos) << listed.err;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// A socket that accepts connections (the kernel's backlog) but never speaks HTTP/2: the
// listing gives up after its short deadline instead of the client's 10 s.
TEST(ExtcapCliTest, ADaemonThatNeverAnswersIsGivenUpQuickly) {
  const std::string dir = TempDir("mute");
  const std::string path = dir + "/mute.sock";
  const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  const absl::Time start = absl::Now();
  CommandResult listed = RunCommand(ExtcapArgv(path, {"--extcap-interfaces"}), absl::Seconds(20));
  const absl::Duration took = absl::Now() - start;
  close(listener);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(absl::StartsWith(listed.out, kExtcapLine)) << listed.out;
  EXPECT_EQ(listed.out.find("interface "), std::string::npos) << listed.out;
  EXPECT_NE(listed.err.find("did not answer"), std::string::npos) << listed.err;
  EXPECT_LT(took, absl::Seconds(4));
}

TEST(ExtcapCliTest, DltsConfigAndFilterCheckFollowTheProtocol) {
  CommandResult dlts =
      RunCommand(ExtcapArgv("/x.sock", {"--extcap-interface", "pktpool:eth1", "--extcap-dlts"}));
  EXPECT_EQ(dlts.exit_code, 0) << dlts.err;
  EXPECT_EQ(dlts.out, "dlt {number=1}{name=EN10MB}{display=Ethernet}\n");

  CommandResult config =
      RunCommand({"env", "PKTPOOL_SOCKET=/run/test/p.sock", "PKTPOOL_TARGET=192.0.2.1:50051",
                  PKTPOOL_EXTCAP_PATH, "--extcap-interface=pktpool:eth1", "--extcap-config"});
  EXPECT_EQ(config.exit_code, 0) << config.err;
  EXPECT_EQ(config.out, extcap::ConfigLines({"/run/test/p.sock", "192.0.2.1:50051"}));

  // Wireshark's filter check: no output when valid, the reason (one line) when not.
  CommandResult valid = RunCommand(ExtcapArgv(
      "/x.sock", {"--extcap-capture-filter", "udp port 53", "--extcap-interface", "pktpool:e"}));
  EXPECT_EQ(valid.exit_code, 0) << valid.err;
  EXPECT_EQ(valid.out, "");
  CommandResult invalid =
      RunCommand(ExtcapArgv("/x.sock", {"--extcap-capture-filter", "not a filter ((",
                                        "--extcap-interface", "pktpool:e"}));
  EXPECT_EQ(invalid.exit_code, 0) << invalid.err;
  EXPECT_NE(invalid.out, "");
  EXPECT_EQ(invalid.out.find('\n'), invalid.out.size() - 1) << invalid.out;

  CommandResult version = RunCommand({PKTPOOL_EXTCAP_PATH, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out, absl::StrCat("pktpool-extcap ", PKTPOOL_PROJECT_VERSION, "\n"));
  CommandResult help = RunCommand({PKTPOOL_EXTCAP_PATH, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--extcap-interfaces"), std::string::npos);
  CommandResult not_ours =
      RunCommand(ExtcapArgv("/x.sock", {"--extcap-interface", "eth1", "--extcap-dlts"}));
  EXPECT_EQ(not_ours.exit_code, 2);
  EXPECT_NE(not_ours.err.find("unknown interface 'eth1'"), std::string::npos) << not_ours.err;
}

TEST(ExtcapCliTest, CaptureWithoutADaemonFailsWithOneLineAndNoHeader) {
  const std::string dir = TempDir("nodaemon");
  const std::string out = dir + "/out.pcap";
  CommandResult capture =
      RunCommand(ExtcapArgv(dir + "/nobody.sock",
                            {"--capture", "--extcap-interface", "pktpool:eth1", "--fifo", out}),
                 absl::Seconds(30));
  EXPECT_EQ(capture.exit_code, 1);
  EXPECT_NE(capture.err.find("UNAVAILABLE"), std::string::npos) << capture.err;
  EXPECT_NE(capture.err.find("cannot reach pktpoold at unix:" + dir + "/nobody.sock"),
            std::string::npos)
      << capture.err;
  EXPECT_EQ(std::count(capture.err.begin(), capture.err.end(), '\n'), 1) << capture.err;
  EXPECT_EQ(std::filesystem::file_size(out), 0u);  // no header: Wireshark calls it failed
  std::filesystem::remove_all(dir);
}

// ---- with pktpoold and tshark ---------------------------------------------------------

// Wireshark's extcap folder ("Extcap path" of `tshark -G folders`; Wireshark 4.0 has no
// personal one), or "" when it cannot be told.
std::string WiresharkExtcapDir() {
  CommandResult folders = RunCommand({"tshark", "-G", "folders"});
  if (folders.exit_code != 0) return "";
  for (absl::string_view line : absl::StrSplit(folders.out, '\n')) {
    if (absl::StartsWith(line, "Extcap path:") || absl::StartsWith(line, "Global Extcap path:")) {
      return std::string(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
    }
  }
  return "";
}

class ExtcapTest : public testing::NamespaceTest {
 protected:
  ExtcapTest() : NamespaceTest("ecap-a", "ecap-b") {}

  void SetUp() override {
    NamespaceTest::SetUp();
    if (!InNamespace()) return;
    wireshark_extcap_dir_ = WiresharkExtcapDir();
    if (wireshark_extcap_dir_.empty() || !std::filesystem::is_directory(wireshark_extcap_dir_)) {
      if (std::getenv("CI") != nullptr) {
        FAIL() << "CI is set but tshark (with its extcap folder) is missing: apt install tshark";
      }
      GTEST_SKIP() << "needs tshark and Wireshark's extcap folder (apt install tshark; set CI "
                      "to make this a failure)";
    }
    dir_ = TempDir("test");
    socket_ = dir_ + "/pktpoold.sock";
    // The folder bind-mounted over Wireshark's, in tshark's own mount namespace only.
    std::filesystem::create_directories(dir_ + "/extcap");
    std::filesystem::create_directories(dir_ + "/config");
    std::filesystem::create_symlink(PKTPOOL_EXTCAP_PATH, dir_ + "/extcap/pktpool-extcap");
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{PKTPOOLD_PATH, "--socket", socket_, "--bind", ns_->b()});
    ASSERT_TRUE(daemon_->started());
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(10);
    bool connected = false;
    while (!connected && std::chrono::system_clock::now() < deadline) {
      connected = channel_->WaitForConnected(std::chrono::system_clock::now() +
                                             std::chrono::milliseconds(200));
    }
    ASSERT_TRUE(connected) << "pktpoold did not listen: " << daemon_->Err();
    stub_ = v1::PktPool::NewStub(channel_);
  }

  void TearDown() override {
    if (daemon_) {
      daemon_->Signal(SIGTERM);
      daemon_->Wait(absl::Seconds(10));
    }
    if (injector_ != nullptr) pcap_close(injector_);
    std::error_code error;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, error);
  }

  // tshark ARGS with PKTPOOL_SOCKET=`socket`, in a mount namespace of its own where our
  // folder (holding only pktpool-extcap) is Wireshark's extcap folder. It inherits this
  // thread's network namespace.
  std::vector<std::string> TsharkArgv(const std::string& socket, std::vector<std::string> args) {
    std::vector<std::string> argv = {"env",
                                     "-u",
                                     "PKTPOOL_TARGET",
                                     "PKTPOOL_SOCKET=" + socket,
                                     "XDG_CONFIG_HOME=" + dir_ + "/config",
                                     "unshare",
                                     "--mount",
                                     "--propagation",
                                     "private",
                                     "--",
                                     "/bin/sh",
                                     "-c",
                                     "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"",
                                     "sh",
                                     dir_ + "/extcap",
                                     wireshark_extcap_dir_,
                                     "tshark"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  v1::BindingStats Stats() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetStatsRequest request;
    request.set_interface(ns_->b());
    v1::GetStatsResponse response;
    grpc::Status status = stub_->GetStats(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.bindings_size() == 1 ? response.bindings(0) : v1::BindingStats{};
  }

  // Waits (at most 20 s) until the binding has `count` Capture streams.
  bool WaitForSubscribers(int count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      if (Stats().subscribers_size() == count) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // Sends `frames` on end a (of our namespace only), so end b, the binding, receives them.
  void Inject(const std::vector<std::string>& frames) {
    if (injector_ == nullptr) {
      char error[PCAP_ERRBUF_SIZE];
      injector_ = pcap_open_live(ns_->a().c_str(), 65535, 0, 100, error);
      ASSERT_NE(injector_, nullptr) << error;
    }
    for (const std::string& frame : frames) {
      ASSERT_EQ(pcap_inject(injector_, frame.data(), frame.size()), static_cast<int>(frame.size()))
          << pcap_geterr(injector_);
    }
  }

  std::string wireshark_extcap_dir_, dir_, socket_;
  std::unique_ptr<ChildProcess> daemon_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PktPool::Stub> stub_;
  pcap_t* injector_ = nullptr;
};

TEST_F(ExtcapTest, TsharkListsTheBindingAsAnInterface) {
  CommandResult listed = RunCommand(TsharkArgv(socket_, {"-D"}), absl::Seconds(60));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::string expected =
      absl::StrCat("pktpool:", ns_->b(), " (pktpool ", ns_->b(), " (through pktpoold))");
  EXPECT_NE(listed.out.find(expected), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("pktpool:" + ns_->a()), std::string::npos) << listed.out;
}

TEST_F(ExtcapTest, TsharkCapturesExactlyTheFramesSentInOrder) {
  constexpr uint32_t kFrames = 24;
  std::vector<std::string> expected, sent;
  for (uint32_t i = 0; i < kFrames; ++i) {
    expected.push_back(testing::TestFrame<std::string>(i, 60 + (i * 97) % 1455));
    sent.push_back(OtherFrame(i, 64));  // filtered out by the daemon
    sent.push_back(expected.back());
  }
  const std::string out = dir_ + "/out.pcapng";
  const int64_t start_ns = absl::ToUnixNanos(absl::Now());
  ChildProcess tshark(TsharkArgv(socket_, {"-i", "pktpool:" + ns_->b(), "-f", "ether proto 0x88b5",
                                           "-c", absl::StrCat(kFrames), "-w", out}));
  ASSERT_TRUE(WaitForSubscribers(1)) << tshark.Err();
  Inject(sent);
  CommandResult done = tshark.Wait(absl::Seconds(30));
  const int64_t end_ns = absl::ToUnixNanos(absl::Now());
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.err.find(absl::StrCat(kFrames, " packets captured")), std::string::npos)
      << done.err;

  CaptureFile file = ReadCaptureFile(out);
  ASSERT_TRUE(file.opened) << out;
  EXPECT_EQ(file.link_type, DLT_EN10MB);
  EXPECT_EQ(file.frames, expected);
  for (size_t i = 0; i < file.timestamps_ns.size(); ++i) {
    EXPECT_GE(file.timestamps_ns[i], start_ns - 1'000'000'000) << i;  // ns, this run's time
    EXPECT_LE(file.timestamps_ns[i], end_ns) << i;
    if (i > 0) {
      EXPECT_GE(file.timestamps_ns[i], file.timestamps_ns[i - 1]) << i;
    }
  }
  // tshark stopped the extcap: its stream is gone from the daemon.
  EXPECT_TRUE(WaitForSubscribers(0));
}

TEST_F(ExtcapTest, ABadFilterFailsTheCaptureWithAMessageNamingIt) {
  CommandResult failed =
      RunCommand(TsharkArgv(socket_, {"-i", "pktpool:" + ns_->b(), "-f", "not a filter ((", "-c",
                                      "1", "-w", dir_ + "/bad.pcapng"}),
                 absl::Seconds(60));
  EXPECT_NE(failed.exit_code, 0) << failed.err;
  EXPECT_NE(failed.err.find("capture filter 'not a filter ((' is not valid"), std::string::npos)
      << failed.err;
  EXPECT_TRUE(WaitForSubscribers(0));
}

TEST_F(ExtcapTest, WithoutTheDaemonTsharkListsInterfacesButNoPktpoolOne) {
  const absl::Time start = absl::Now();
  CommandResult listed =
      RunCommand(TsharkArgv(dir_ + "/nobody-listens.sock", {"-D"}), absl::Seconds(60));
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(ns_->a()), std::string::npos) << listed.out;  // local ones still
  EXPECT_EQ(listed.out.find("pktpool:"), std::string::npos) << listed.out;
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

TEST_F(ExtcapTest, AnUnknownBindingFailsWithNotFoundAndNoHeader) {
  const std::string out = dir_ + "/unknown.pcap";
  CommandResult failed = RunCommand(
      ExtcapArgv(socket_, {"--capture", "--extcap-interface", "pktpool:nosuch0", "--fifo", out}),
      absl::Seconds(30));
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.err.find("NOT_FOUND"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("no binding 'nosuch0' (bound: " + ns_->b() + ")"), std::string::npos)
      << failed.err;
  EXPECT_EQ(std::filesystem::file_size(out), 0u);
}

TEST_F(ExtcapTest, SigtermEndsACaptureCleanlyWithEveryFrameWritten) {
  const std::string out = dir_ + "/term.pcap";
  ChildProcess extcap(ExtcapArgv(
      socket_, {"--capture", "--extcap-interface", "pktpool:" + ns_->b(), "--fifo", out}));
  ASSERT_TRUE(WaitForSubscribers(1)) << extcap.Err();
  std::vector<std::string> frames;
  for (uint32_t i = 0; i < 10; ++i) frames.push_back(testing::TestFrame<std::string>(i, 100));
  Inject(frames);
  // Flushed after each response: the file holds them while the capture still runs.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline && ReadCaptureFile(out).frames.size() < frames.size()) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  extcap.Signal(SIGTERM);
  CommandResult done = extcap.Wait(absl::Seconds(10));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  CaptureFile file = ReadCaptureFile(out);
  EXPECT_EQ(file.link_type, DLT_EN10MB);
  EXPECT_EQ(file.frames, frames);
  EXPECT_TRUE(WaitForSubscribers(0));
}

TEST_F(ExtcapTest, TheFifosReaderLeavingEndsTheCaptureWithoutTraffic) {
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
  ChildProcess extcap(ExtcapArgv(
      socket_, {"--capture", "--extcap-interface", "pktpool:" + ns_->b(), "--fifo", fifo}));
  const int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0) << strerror(errno);
  ASSERT_TRUE(WaitForSubscribers(1)) << extcap.Err();
  // The pcapng section header comes once subscribed.
  std::string header;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (header.size() < 12 && absl::Now() < deadline) {
    pollfd readable{reader, POLLIN, 0};
    if (poll(&readable, 1, 100) <= 0) continue;
    char bytes[64];
    const ssize_t got = read(reader, bytes, sizeof(bytes));
    if (got > 0) header.append(bytes, static_cast<size_t>(got));
  }
  ASSERT_GE(header.size(), 12u);
  uint32_t block_type = 0, byte_order = 0;
  std::memcpy(&block_type, header.data(), 4);
  std::memcpy(&byte_order, header.data() + 8, 4);
  EXPECT_EQ(block_type, 0x0a0d0d0au);  // a section header block
  EXPECT_EQ(byte_order, 0x1a2b3c4du);
  close(reader);
  CommandResult done = extcap.Wait(absl::Seconds(10));
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_TRUE(WaitForSubscribers(0));
}

}  // namespace
}  // namespace pktpool
