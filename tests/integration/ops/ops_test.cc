// pktpoold's operations end to end: systemd notifications (READY, STATUS, WATCHDOG,
// RELOADING, STOPPING), SIGHUP config reload under traffic, and /metrics against GetStats.
// The daemon runs as its own process in a network namespace of the test's own, with a
// veth pair; traffic goes only there.
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "pktpool/v1/pktpool.grpc.pb.h"
#include "tests/support/loopback_listener.h"
#include "tests/support/process.h"
#include "tests/support/namespace_test.h"
#include "tests/support/tcpdump.h"
#include "tests/support/test_frame.h"
#include "tests/unit/metrics/prometheus_text_parser.h"

extern char** environ;

namespace pktpool {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::Not;

// Polls `done` every 20 ms for at most `limit`; true once it holds.
bool WaitUntil(const std::function<bool()>& done, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces `path` at once (write, then rename), so the daemon never reads half a file.
void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".new";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(temporary, path);
}

uint32_t SequenceOf(const std::string& frame) {
  uint32_t sequence = 0;
  if (frame.size() >= 18) std::memcpy(&sequence, frame.data() + 14, sizeof(sequence));
  return sequence;
}

// The current (not draining) generation of one pool, or an empty message.
v1::PoolStats CurrentPool(const v1::BindingStats& stats, v1::PoolName name) {
  for (const v1::PoolStats& pool : stats.pools()) {
    if (pool.name() == name && !pool.draining()) return pool;
  }
  return {};
}

// pktpoold as a child process in the test's namespace, its stderr in a file.
class OpsTest : public testing::NamespaceTest {
 protected:
  void SetUp() override {
    NamespaceTest::SetUp();
    if (!InNamespace()) return;
    dir_ = absl::StrCat("/tmp/pktpoold-ops-", getpid(), "-", counter_++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    socket_ = dir_ + "/d.sock";
    stderr_path_ = dir_ + "/stderr.log";
    config_path_ = dir_ + "/pktpoold.conf";
  }

  void TearDown() override {
    if (pid_ > 0) StopDaemon();
    if (notify_fd_ >= 0) close(notify_fd_);
    if (HasFailure() && std::filesystem::exists(stderr_path_)) {
      std::fprintf(stderr, "---- pktpoold stderr ----\n%s-------------------------\n",
                   ReadWholeFile(stderr_path_).c_str());
    }
    std::filesystem::remove_all(dir_);
  }

  // Starts pktpoold with `args` (after --socket) and `env` added to a copy of ours (minus
  // any systemd variables), then waits until its socket answers.
  void StartDaemon(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<std::string> full = {PKTPOOLD_PATH, "--socket", socket_};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      const absl::string_view entry(*e);
      if (absl::StartsWith(entry, "NOTIFY_SOCKET=") || absl::StartsWith(entry, "WATCHDOG_")) {
        continue;
      }
      environment.emplace_back(entry);
    }
    environment.insert(environment.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int spawned =
        posix_spawn(&pid_, PKTPOOLD_PATH, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(spawned, 0);
    // A channel of its own (a local subchannel pool): after a kill -9 the next daemon's
    // channel must not reuse the dead one's connection, as a new client process would not.
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_ = grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(),
                                         arguments);
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(10);
    bool connected = false;
    while (!connected && std::chrono::system_clock::now() < deadline) {
      connected = channel_->WaitForConnected(std::chrono::system_clock::now() +
                                             std::chrono::milliseconds(200));
    }
    ASSERT_TRUE(connected) << "pktpoold did not listen on " << socket_ << ": " << Stderr();
    stub_ = v1::PktPool::NewStub(channel_);
  }

  // SIGTERM, then waits (at most 10 s); the exit status, or -1 if it did not exit.
  int StopDaemon() {
    kill(pid_, SIGTERM);
    int status = 0;
    const bool exited = WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; },
                                  absl::Seconds(10));
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    return exited ? status : -1;
  }

  std::string Stderr() const { return ReadWholeFile(stderr_path_); }

  // Lines of the daemon's stderr containing `text`.
  std::vector<std::string> StderrLines(absl::string_view text) const {
    std::vector<std::string> lines;
    for (absl::string_view line : absl::StrSplit(Stderr(), '\n')) {
      if (absl::StrContains(line, text)) lines.emplace_back(line);
    }
    return lines;
  }

  // Reloads finished so far (applied or refused), as the daemon logs them.
  size_t ReloadsFinished() const {
    return StderrLines("pktpoold: reloaded ").size() +
           StderrLines("; keeping the running config").size();
  }

  // SIGHUP, then waits (at most 10 s) until the daemon logs the reload's end.
  void Reload() {
    const size_t before = ReloadsFinished();
    ASSERT_EQ(kill(pid_, SIGHUP), 0);
    ASSERT_TRUE(WaitUntil([&] { return ReloadsFinished() > before; }, absl::Seconds(10)))
        << "no end of reload logged: " << Stderr();
  }

  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return (stub_.get()->*method)(&context, request, response);
  }

  v1::GetStatsResponse AllStats() {
    v1::GetStatsResponse response;
    EXPECT_TRUE(Call(&v1::PktPool::Stub::GetStats, v1::GetStatsRequest{}, &response).ok());
    return response;
  }

  v1::BindingStats StatsOf(const std::string& interface) {
    const v1::GetStatsResponse stats = AllStats();
    for (const v1::BindingStats& binding : stats.bindings()) {
      if (binding.binding().interface() == interface) return binding;
    }
    return {};
  }

  std::vector<std::string> BoundInterfaces() {
    v1::ListBindingsResponse list;
    EXPECT_TRUE(Call(&v1::PktPool::Stub::ListBindings, v1::ListBindingsRequest{}, &list).ok());
    std::vector<std::string> names;
    for (const auto& binding : list.bindings()) names.push_back(binding.interface());
    return names;
  }

  // Subscribers on `interface` now (a Capture stream is one once it is set up).
  int Subscribers(const std::string& interface) {
    return StatsOf(interface).subscribers_size();
  }

  // Runs another pktpoold with `args` to its end, sending it SIGTERM after `seconds`: its
  // exit status (0 after a clean SIGTERM), and its stderr in `err`.
  int RunOtherDaemon(const std::string& args, std::string* err, int seconds = 20) {
    static std::atomic<int> runs{0};
    const std::string err_path = absl::StrCat(dir_, "/other-", runs++, ".stderr");
    const int status = std::system(absl::StrCat("timeout --preserve-status -k 5 ", seconds, " ",
                                                PKTPOOLD_PATH, " ", args, " 2> ", err_path)
                                       .c_str());
    *err = ReadWholeFile(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static inline int counter_ = 0;
  std::string dir_, socket_, stderr_path_, config_path_;
  pid_t pid_ = -1;
  int notify_fd_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PktPool::Stub> stub_;
};

// Sends batches of numbered frames on one interface from a thread of its own, recording
// the sequence of every frame reported SENT and counting the ones reported failed.
class Flood {
 public:
  Flood(std::shared_ptr<grpc::Channel> channel, std::string interface, uint32_t first_sequence)
      : stub_(v1::PktPool::NewStub(channel)),
        interface_(std::move(interface)),
        next_(first_sequence),
        thread_([this] { Run(); }) {}
  ~Flood() { Stop(); }

  // Stops after the batch in flight; idempotent.
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Waits (bounded) until `more` further batches completed.
  bool WaitForBatches(int more) {
    const int target = batches_.load() + more;
    return WaitUntil([&] { return batches_.load() >= target || done_.load(); }, absl::Seconds(20));
  }

  // After Stop: what the daemon reported.
  const std::vector<uint32_t>& sent() const { return sent_; }
  uint64_t failed() const { return failed_; }
  const std::string& error() const { return error_; }  // an RPC that failed, if any

 private:
  static constexpr int kMaxBatches = 2000;  // bound: 200k frames at most
  static constexpr int kFramesPerBatch = 100;

  void Run() {
    for (int batch = 0; batch < kMaxBatches && !stop_.load(); ++batch) {
      v1::SendFramesRequest send;
      send.set_interface(interface_);
      *send.mutable_wait_for_resources() = TimeUtil::SecondsToDuration(5);
      std::vector<uint32_t> sequences;
      for (int i = 0; i < kFramesPerBatch; ++i) {
        sequences.push_back(next_);
        send.add_frames(testing::TestFrame<std::string>(next_++, 300));
      }
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::SendFramesResponse response;
      grpc::Status status = stub_->SendFrames(&context, send, &response);
      if (!status.ok()) {
        error_ = status.error_message();
        break;
      }
      for (int i = 0; i < response.outcomes_size(); ++i) {
        if (response.outcomes(i).result() == v1::SEND_RESULT_SENT) {
          sent_.push_back(sequences[i]);
        } else {
          ++failed_;
        }
      }
      if (response.outcomes_size() != kFramesPerBatch) {
        error_ = absl::StrCat("a batch of ", kFramesPerBatch, " frames got ",
                              response.outcomes_size(), " outcomes");
        break;
      }
      batches_.fetch_add(1);
      absl::SleepFor(absl::Milliseconds(2));
    }
    done_.store(true);
  }

  std::unique_ptr<v1::PktPool::Stub> stub_;
  const std::string interface_;
  uint32_t next_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<int> batches_{0};
  std::vector<uint32_t> sent_;
  uint64_t failed_ = 0;
  std::string error_;
  std::thread thread_;
};

// A Capture stream on one interface, read by a thread of its own.
class CaptureReader {
 public:
  CaptureReader(v1::PktPool::Stub* stub, const std::string& interface) {
    v1::CaptureRequest request;
    request.set_interface(interface);
    request.set_queue_frames(65536);
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
    reader_ = stub->Capture(&context_, request);
    thread_ = std::thread([this] {
      v1::CaptureResponse batch;
      while (reader_->Read(&batch)) {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& frame : batch.frames()) sequences_.push_back(SequenceOf(frame.data()));
      }
    });
  }
  ~CaptureReader() { Stop(); }

  // Waits (bounded) until `count` frames arrived.
  bool WaitFor(size_t count) {
    return WaitUntil([&] { return Sequences().size() >= count; }, absl::Seconds(20));
  }
  std::vector<uint32_t> Sequences() {
    std::lock_guard<std::mutex> lock(mu_);
    return sequences_;
  }
  void Stop() {
    if (!thread_.joinable()) return;
    context_.TryCancel();
    thread_.join();
    reader_->Finish();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::CaptureResponse>> reader_;
  std::mutex mu_;
  std::vector<uint32_t> sequences_;
  std::thread thread_;
};

// ---- systemd notifications --------------------------------------------------------------

// One datagram from the notify socket and when the kernel received it.
struct Notification {
  std::string text;
  absl::Time received;
};

// A datagram socket standing in for systemd's notify socket, with kernel receive
// timestamps (so the test's own scheduling does not skew the measured spacing).
int OpenNotifySocket(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const int one = 1;
  timeval timeout{.tv_sec = 0, .tv_usec = 100000};
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Receives until `enough` holds for what was received, or `limit` passes.
std::vector<Notification> Receive(int fd, absl::Duration limit,
                                  const std::function<bool(const std::vector<Notification>&)>& enough,
                                  std::vector<Notification>* all) {
  std::vector<Notification> got;
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline && !enough(got)) {
    char data[4096];
    char control[CMSG_SPACE(sizeof(timespec))];
    iovec io{.iov_base = data, .iov_len = sizeof(data)};
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &message, 0);
    if (n < 0) continue;  // timeout: look at the deadline again
    Notification notification{std::string(data, static_cast<size_t>(n)), absl::Now()};
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec stamp;
        std::memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
        notification.received = absl::TimeFromTimespec(stamp);
      }
    }
    got.push_back(notification);
    all->push_back(notification);
  }
  return got;
}

bool HasLine(const Notification& n, absl::string_view line) {
  for (absl::string_view l : absl::StrSplit(n.text, '\n')) {
    if (l == line) return true;
  }
  return false;
}

std::string StatusOf(const Notification& n) {
  for (absl::string_view l : absl::StrSplit(n.text, '\n')) {
    if (absl::StartsWith(l, "STATUS=")) return std::string(l.substr(7));
  }
  return "";
}

size_t Count(const std::vector<Notification>& got, absl::string_view line) {
  return std::count_if(got.begin(), got.end(),
                       [&](const Notification& n) { return HasLine(n, line); });
}

std::string Dump(const std::vector<Notification>& all) {
  std::string text;
  for (const auto& n : all) absl::StrAppend(&text, absl::FormatTime(n.received), " ", n.text, "|\n");
  return text;
}

TEST_F(OpsTest, SdNotifyReadyStatusWatchdogReloadingAndStopping) {
  const std::string notify_path = dir_ + "/notify.sock";
  notify_fd_ = OpenNotifySocket(notify_path);
  ASSERT_GE(notify_fd_, 0) << std::strerror(errno);
  WriteFileAtomically(config_path_, absl::StrCat("status_interval_seconds: 1\n"
                                                 "bindings { interface: \"", ns_->a(), "\" }\n"
                                                 "bindings { interface: \"", ns_->b(), "\" }\n"));
  constexpr int64_t kWatchdogUsec = 400000;
  StartDaemon({"--config", config_path_},
              {"NOTIFY_SOCKET=" + notify_path, absl::StrCat("WATCHDOG_USEC=", kWatchdogUsec)});
  std::vector<Notification> all;

  // READY=1 with a STATUS line naming the bindings, then watchdog pings and STATUS updates.
  Receive(notify_fd_, absl::Seconds(10),
          [](const std::vector<Notification>& got) {
            return Count(got, "READY=1") >= 1 && Count(got, "WATCHDOG=1") >= 5 &&
                   std::count_if(got.begin(), got.end(), [](const Notification& n) {
                     return !HasLine(n, "READY=1") && !StatusOf(n).empty();
                   }) >= 1;
          },
          &all);
  ASSERT_FALSE(all.empty()) << "nothing on NOTIFY_SOCKET; stderr: " << Stderr();
  ASSERT_TRUE(HasLine(all[0], "READY=1")) << Dump(all);
  EXPECT_THAT(StatusOf(all[0]),
              HasSubstr(absl::StrCat("2 bindings (2 up): ", ns_->a(), ", ", ns_->b(), "; rx ")))
      << Dump(all);
  EXPECT_THAT(StatusOf(all[0]), HasSubstr("alloc failures")) << Dump(all);
  bool periodic_status = false;
  for (size_t i = 1; i < all.size(); ++i) {
    if (!StatusOf(all[i]).empty() && !HasLine(all[i], "READY=1")) {
      periodic_status = true;
      EXPECT_THAT(StatusOf(all[i]), HasSubstr("2 bindings (2 up)")) << Dump(all);
    }
  }
  EXPECT_TRUE(periodic_status) << "no STATUS= update within 10 s at a 1 s interval\n" << Dump(all);
  std::vector<absl::Time> pings;
  for (const Notification& n : all) {
    if (n.text == "WATCHDOG=1") pings.push_back(n.received);
  }
  ASSERT_GE(pings.size(), 3u) << Dump(all);
  // Pings at about half the interval: loosely between 0.1x and 1x of it.
  const absl::Duration interval = absl::Microseconds(kWatchdogUsec);
  for (size_t i = 1; i < pings.size(); ++i) {
    const absl::Duration gap = pings[i] - pings[i - 1];
    EXPECT_GE(gap, interval / 10) << "ping " << i << "\n" << Dump(all);
    EXPECT_LE(gap, interval) << "ping " << i << "\n" << Dump(all);
  }

  // A reload: RELOADING=1, then READY=1 again.
  all.clear();
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  Receive(notify_fd_, absl::Seconds(10),
          [](const std::vector<Notification>& got) {
            return Count(got, "RELOADING=1") >= 1 && Count(got, "READY=1") >= 1;
          },
          &all);
  size_t reloading = all.size(), ready = all.size();
  for (size_t i = 0; i < all.size(); ++i) {
    if (HasLine(all[i], "RELOADING=1") && reloading == all.size()) reloading = i;
    if (HasLine(all[i], "READY=1") && reloading < i && ready == all.size()) ready = i;
  }
  ASSERT_LT(reloading, all.size()) << Dump(all);
  ASSERT_LT(ready, all.size()) << "no READY=1 after RELOADING=1\n" << Dump(all);
  EXPECT_THAT(all[reloading].text, HasSubstr("MONOTONIC_USEC="));

  // SIGTERM: STOPPING=1, and the daemon exits 0.
  all.clear();
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  Receive(notify_fd_, absl::Seconds(10),
          [](const std::vector<Notification>& got) { return Count(got, "STOPPING=1") >= 1; },
          &all);
  EXPECT_EQ(Count(all, "STOPPING=1"), 1u) << Dump(all);
  const int status = StopDaemon();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(OpsTest, WithoutNotifySocketNoWatchdogIsStarted) {
  StartDaemon({"--bind", ns_->a()}, {absl::StrCat("WATCHDOG_USEC=", 400000)});
  EXPECT_TRUE(StderrLines("systemd watchdog").empty()) << Stderr();
  // SIGHUP without --config: logged, nothing else happens.
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  EXPECT_TRUE(WaitUntil([&] { return !StderrLines("nothing to reload").empty(); },
                        absl::Seconds(10)))
      << Stderr();
  EXPECT_EQ(BoundInterfaces(), std::vector<std::string>{ns_->a()});
}

// ---- SIGHUP reload -----------------------------------------------------------------------

std::string BindingText(const std::string& interface, const std::string& options) {
  return absl::StrCat("bindings {\n  interface: \"", interface, "\"\n  options { ", options,
                      " }\n}\n");
}

TEST_F(OpsTest, SighupBindsTunesAndUnbindsUnderAFloodAndSurvivesABrokenFile) {
  WriteFileAtomically(config_path_, BindingText(ns_->a(), "tx { packet_descriptors: 512 }"));
  StartDaemon({"--config", config_path_});
  ASSERT_EQ(BoundInterfaces(), std::vector<std::string>{ns_->a()});
  ASSERT_EQ(CurrentPool(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS).descriptors(), 512u);

  // 1. Bind B and shrink A's tx packets to 256 while A floods; an independent capture
  //    (tcpdump on B) sees every frame reported sent.
  auto tcpdump = std::make_unique<testing::Tcpdump>(
      ns_->b(), absl::StrCat(dir_, "/reload1.pcap"));
  ASSERT_TRUE(tcpdump->ok());
  Flood first(channel_, ns_->a(), 0);
  ASSERT_TRUE(first.WaitForBatches(5)) << first.error();
  WriteFileAtomically(config_path_, BindingText(ns_->a(), "tx { packet_descriptors: 256 }") +
                                        BindingText(ns_->b(), ""));
  Reload();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return BoundInterfaces() == std::vector<std::string>{ns_->a(), ns_->b()} &&
               CurrentPool(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS).descriptors() == 256;
      },
      absl::Seconds(10)))
      << Stderr();
  const v1::PoolStats tuned = CurrentPool(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS);
  EXPECT_EQ(tuned.generation(), 1u);
  EXPECT_EQ(StderrLines("reload: bound " + ns_->b()).size(), 1u) << Stderr();
  EXPECT_EQ(StderrLines("tx.packet_descriptors: 512 -> 256").size(), 1u) << Stderr();
  ASSERT_TRUE(first.WaitForBatches(5)) << first.error();
  first.Stop();
  ASSERT_EQ(first.error(), "");
  ASSERT_GT(first.sent().size(), 0u);
  std::set<uint32_t> seen;
  for (const auto& frame : tcpdump->StopAndRead(first.sent().size())) {
    seen.insert(SequenceOf(std::string(frame.begin(), frame.end())));
  }
  size_t missing = 0;
  for (uint32_t sequence : first.sent()) missing += seen.count(sequence) == 0 ? 1 : 0;
  EXPECT_EQ(missing, 0u) << "of " << first.sent().size() << " frames reported sent ("
                         << first.failed() << " reported failed)";

  // 2. With B bound, a Capture stream on B, tune A's tx pools and B's rx packets while A
  //    floods; the stream sees every frame reported sent, in order. A's snaplen change
  //    cannot apply live: logged, not applied.
  CaptureReader capture(stub_.get(), ns_->b());
  ASSERT_TRUE(WaitUntil([&] { return Subscribers(ns_->b()) == 1; }, absl::Seconds(10)));
  Flood second(channel_, ns_->a(), 1000000);
  ASSERT_TRUE(second.WaitForBatches(5)) << second.error();
  WriteFileAtomically(
      config_path_,
      BindingText(ns_->a(), "snaplen: 9000 tx { packet_descriptors: 128 buffer_count: 1024 }") +
          BindingText(ns_->b(), "rx { packet_descriptors: 600 }"));
  Reload();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return CurrentPool(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS).descriptors() == 128 &&
               CurrentPool(StatsOf(ns_->a()), v1::POOL_NAME_TX_BUFFERS).descriptors() == 1024 &&
               CurrentPool(StatsOf(ns_->b()), v1::POOL_NAME_RX_PACKETS).descriptors() == 600;
      },
      absl::Seconds(10)))
      << Stderr();
  ASSERT_TRUE(second.WaitForBatches(5)) << second.error();
  second.Stop();
  ASSERT_EQ(second.error(), "");
  ASSERT_TRUE(capture.WaitFor(second.sent().size()))
      << capture.Sequences().size() << " of " << second.sent().size() << " frames captured";
  capture.Stop();
  EXPECT_EQ(capture.Sequences(), second.sent()) << second.failed() << " reported failed";
  EXPECT_EQ(StatsOf(ns_->b()).rx_resource_drops(), 0u);
  const auto snaplen_lines = StderrLines("options.snaplen: 65535 -> 9000 not applied");
  ASSERT_EQ(snaplen_lines.size(), 1u) << Stderr();
  EXPECT_THAT(snaplen_lines[0], HasSubstr("restart"));
  v1::ListBindingsResponse list;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::ListBindings, v1::ListBindingsRequest{}, &list).ok());
  EXPECT_EQ(list.bindings(0).options().snaplen(), 65535u) << "snaplen changed on a live binding";

  // 3. A broken file: one clear line naming file:line; nothing changes, the daemon serves.
  WriteFileAtomically(config_path_,
                      BindingText(ns_->a(), "tx { packet_descriptors: 64 }") +
                          "this is not a config\n" + BindingText(ns_->b(), ""));
  Reload();
  const auto failed = StderrLines("reload of " + config_path_ + " failed: ");
  ASSERT_EQ(failed.size(), 1u) << Stderr();
  EXPECT_THAT(failed[0], HasSubstr(config_path_ + ":5:"));  // "this is not a config"
  EXPECT_THAT(failed[0], HasSubstr("; keeping the running config"));
  EXPECT_THAT(failed[0], ::testing::StartsWith("<3>pktpoold: reload of "));
  EXPECT_EQ(BoundInterfaces(), (std::vector<std::string>{ns_->a(), ns_->b()}));
  EXPECT_EQ(CurrentPool(StatsOf(ns_->a()), v1::POOL_NAME_TX_PACKETS).descriptors(), 128u);
  v1::GetVersionResponse version;
  EXPECT_TRUE(Call(&v1::PktPool::Stub::GetVersion, v1::GetVersionRequest{}, &version).ok());

  // 4. B leaves the config: unbound. A's snaplen is still reported as not applied.
  WriteFileAtomically(
      config_path_,
      BindingText(ns_->a(), "snaplen: 9000 tx { packet_descriptors: 128 buffer_count: 1024 }"));
  Reload();
  EXPECT_EQ(BoundInterfaces(), std::vector<std::string>{ns_->a()});
  EXPECT_EQ(StderrLines("reload: unbound " + ns_->b()).size(), 1u) << Stderr();
  EXPECT_EQ(StderrLines("options.snaplen: 65535 -> 9000 not applied").size(), 2u) << Stderr();
  const int status = StopDaemon();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(OpsTest, ReloadLeavesApiBindingsAloneAndRebindsConfigBindings) {
  WriteFileAtomically(config_path_, BindingText(ns_->a(), ""));
  StartDaemon({"--config", config_path_});
  // B bound through the API, with options of its own.
  v1::BindRequest bind;
  bind.set_interface(ns_->b());
  bind.mutable_options()->mutable_rx()->set_packet_descriptors(64);
  bind.mutable_options()->set_rx_preallocate(16);
  v1::BindResponse bound;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::Bind, bind, &bound).ok());

  // The config names B too, with other options: B is the API's, left as it is.
  WriteFileAtomically(config_path_, BindingText(ns_->a(), "") +
                                        BindingText(ns_->b(), "rx { packet_descriptors: 128 } rx_preallocate: 16"));
  Reload();
  EXPECT_EQ(StderrLines(ns_->b() + " is bound through the API; left as it is").size(), 1u)
      << Stderr();
  EXPECT_EQ(CurrentPool(StatsOf(ns_->b()), v1::POOL_NAME_RX_PACKETS).descriptors(), 64u);

  // The config drops B: still bound (the config never bound it).
  WriteFileAtomically(config_path_, BindingText(ns_->a(), ""));
  Reload();
  EXPECT_EQ(BoundInterfaces(), (std::vector<std::string>{ns_->a(), ns_->b()}));

  // A, the config's, unbound through the API: the next reload binds it again.
  v1::UnbindRequest unbind;
  unbind.set_interface(ns_->a());
  v1::UnbindResponse unbound;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::Unbind, unbind, &unbound).ok());
  EXPECT_EQ(BoundInterfaces(), std::vector<std::string>{ns_->b()});
  Reload();
  EXPECT_EQ(BoundInterfaces(), (std::vector<std::string>{ns_->a(), ns_->b()}));
  EXPECT_EQ(StderrLines("reload: bound " + ns_->a()).size(), 1u) << Stderr();
}

// ---- /metrics ----------------------------------------------------------------------------

TEST_F(OpsTest, MetricsParseListEveryFamilyAndEqualGetStats) {
  WriteFileAtomically(config_path_,
                      absl::StrCat("metrics { listen_address: \"127.0.0.1:0\" }\n",
                                   BindingText(ns_->a(), ""), BindingText(ns_->b(), "")));
  StartDaemon({"--config", config_path_});
  // "pktpoold: metrics on http://127.0.0.1:PORT/metrics"
  const std::string prefix = "pktpoold: metrics on http://127.0.0.1:";
  int port = 0;
  ASSERT_TRUE(WaitUntil([&] { return !StderrLines(prefix).empty(); }, absl::Seconds(10)))
      << Stderr();
  {
    const std::string line = StderrLines(prefix)[0];
    const std::string rest = line.substr(line.find(prefix) + prefix.size());
    ASSERT_TRUE(absl::EndsWith(rest, "/metrics")) << line;
    ASSERT_TRUE(absl::SimpleAtoi(rest.substr(0, rest.size() - 8), &port)) << line;
    ASSERT_GT(port, 0);
  }
  httplib::Client http("127.0.0.1", port);  // inside the test's namespace
  http.set_connection_timeout(5);
  http.set_read_timeout(5);
  const std::vector<testing::FamilySpec> specs =
      testing::ReadFamilySpecs(PKTPOOL_METRIC_FAMILIES_FILE);
  ASSERT_EQ(specs.size(), 29u);
  auto scrape = [&]() -> absl::StatusOr<testing::PromExposition> {
    auto got = http.Get("/metrics");
    if (!got) return absl::UnavailableError(httplib::to_string(got.error()));
    if (got->status != 200) return absl::InternalError(absl::StrCat("HTTP ", got->status));
    if (!absl::StartsWith(got->get_header_value("Content-Type"), "text/plain; version=0.0.4")) {
      return absl::InternalError("Content-Type " + got->get_header_value("Content-Type"));
    }
    return testing::ParsePrometheusText(got->body);
  };

  // During traffic (a flood A -> B, a capture stream on B): every scrape parses and
  // declares every family, with its type.
  {
    CaptureReader capture(stub_.get(), ns_->b());
    ASSERT_TRUE(WaitUntil([&] { return Subscribers(ns_->b()) == 1; }, absl::Seconds(10)));
    Flood flood(channel_, ns_->a(), 0);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(flood.WaitForBatches(3)) << flood.error();
      auto parsed = scrape();
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      for (const auto& spec : specs) {
        const auto* family = parsed->Find(spec.name);
        ASSERT_NE(family, nullptr) << spec.name;
        EXPECT_EQ(family->type, spec.type) << spec.name;
      }
      EXPECT_EQ(parsed->Value("pktpool_up", {}), 1);
      EXPECT_EQ(parsed->Value("pktpool_binding_up", {{"binding", ns_->a()}}), 1);
      EXPECT_EQ(parsed->Find("pktpool_subscriber_dropped_total")->samples.size(), 1u);
    }
    flood.Stop();
    ASSERT_EQ(flood.error(), "");
    ASSERT_TRUE(capture.WaitFor(flood.sent().size()));
    capture.Stop();
  }
  // Traffic stopped (everything sent was received, the stream is gone): /metrics then
  // GetStats right after agree on every counter and pool value.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const v1::GetStatsResponse stats = AllStats();
        return stats.bindings_size() == 2 && stats.bindings(0).subscribers_size() == 0 &&
               stats.bindings(1).subscribers_size() == 0 &&
               stats.bindings(1).rx_frames() == stats.bindings(0).tx_frames();
      },
      absl::Seconds(10)));
  auto parsed = scrape();
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const v1::GetStatsResponse stats = AllStats();
  ASSERT_EQ(stats.bindings_size(), 2);
  ASSERT_GT(stats.bindings(0).tx_frames(), 0u);
  for (const v1::BindingStats& binding : stats.bindings()) {
    const std::string& name = binding.binding().interface();
    const std::map<std::string, std::string> labels = {{"binding", name}};
    EXPECT_EQ(parsed->Value("pktpool_tx_frames_total", labels),
              static_cast<int64_t>(binding.tx_frames()))
        << name;
    EXPECT_EQ(parsed->Value("pktpool_tx_bytes_total", labels),
              static_cast<int64_t>(binding.tx_bytes()))
        << name;
    EXPECT_EQ(parsed->Value("pktpool_rx_frames_total", labels),
              static_cast<int64_t>(binding.rx_frames()))
        << name;
    EXPECT_EQ(parsed->Value("pktpool_rx_bytes_total", labels),
              static_cast<int64_t>(binding.rx_bytes()))
        << name;
    EXPECT_EQ(parsed->Value("pktpool_rx_resource_drops_total", labels),
              static_cast<int64_t>(binding.rx_resource_drops()))
        << name;
    EXPECT_EQ(parsed->Value("pktpool_tx_late_frames_total", labels),
              static_cast<int64_t>(binding.tx_late_frames()))
        << name;
    for (const auto& [reason, count] : binding.tx_failures()) {
      EXPECT_EQ(parsed->Value("pktpool_tx_failures_total", {{"binding", name}, {"reason", reason}}),
                static_cast<int64_t>(count))
          << name << " " << reason;
    }
    ASSERT_EQ(binding.pools_size(), 4) << name;
    for (const v1::PoolStats& pool : binding.pools()) {
      std::string pool_label = pool.name() == v1::POOL_NAME_RX_PACKETS   ? "rx-packets"
                               : pool.name() == v1::POOL_NAME_RX_BUFFERS ? "rx-buffers"
                               : pool.name() == v1::POOL_NAME_TX_PACKETS ? "tx-packets"
                                                                         : "tx-buffers";
      const std::map<std::string, std::string> pool_labels = {
          {"binding", name},
          {"pool", pool_label},
          {"tag", pool.tag()},
          {"generation", absl::StrCat(pool.generation())}};
      const std::pair<const char*, uint64_t> values[] = {
          {"pktpool_pool_descriptors", pool.descriptors()},
          {"pktpool_pool_overflow_limit", pool.overflow_limit()},
          {"pktpool_pool_in_use", pool.in_use()},
          {"pktpool_pool_free", pool.free()},
          {"pktpool_pool_high_watermark", pool.high_watermark()},
          {"pktpool_pool_draining", pool.draining() ? 1u : 0u},
          {"pktpool_pool_allocations_total", pool.allocations()},
          {"pktpool_pool_alloc_failures_total", pool.resource_failures()},
          {"pktpool_pool_memory_bytes", pool.memory_bytes()}};
      for (const auto& [metric, value] : values) {
        EXPECT_EQ(parsed->Value(metric, pool_labels), static_cast<int64_t>(value))
            << metric << " " << name << " " << pool.tag();
      }
    }
  }
  ASSERT_GT(stats.pool_memory().budget_bytes(), 0u);
  EXPECT_EQ(parsed->Value("pktpool_pool_memory_budget_bytes", {}),
            static_cast<int64_t>(stats.pool_memory().budget_bytes()));
  EXPECT_EQ(parsed->Value("pktpool_pool_memory_in_use_bytes", {}),
            static_cast<int64_t>(stats.pool_memory().in_use_bytes()));
  auto other = http.Get("/other");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);

  // Stopped cleanly: exit 0, and the port no longer answers.
  const int status = StopDaemon();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(2);
  EXPECT_FALSE(after.Get("/metrics"));
}

TEST_F(OpsTest, MetricsFlagMirrorsTheConfigFieldAndVersionFlagPrintsTheVersion) {
  StartDaemon({"--bind", ns_->a(), "--metrics", "127.0.0.1:0"});
  EXPECT_TRUE(WaitUntil(
      [&] { return !StderrLines("pktpoold: metrics on http://127.0.0.1:").empty(); },
      absl::Seconds(10)))
      << Stderr();
  // --version: "pktpoold VERSION", exit 0.
  const std::string out = dir_ + "/version.txt";
  ASSERT_EQ(std::system(absl::StrCat(PKTPOOLD_PATH, " --version > ", out).c_str()), 0);
  v1::GetVersionResponse version;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::GetVersion, v1::GetVersionRequest{}, &version).ok());
  EXPECT_EQ(ReadWholeFile(out), absl::StrCat("pktpoold ", version.version(), "\n"));
}

// Fault table (README, "Reliability"): a second daemon on the socket.
// A command line that does not parse is a usage error, exit 2, as an invalid config is.
TEST_F(OpsTest, ACommandLineThatDoesNotParseExitsTwoSayingWhy) {
  std::string err;
  EXPECT_EQ(RunOtherDaemon("--socket " + socket_ + " --no-such-flag", &err), 2);
  EXPECT_THAT(err, HasSubstr("--no-such-flag"));
  EXPECT_EQ(RunOtherDaemon("--socket " + socket_ + " --config " + dir_ + "/missing.textproto",
                           &err),
            2);
  EXPECT_THAT(err, HasSubstr("missing.textproto"));
  EXPECT_EQ(RunOtherDaemon("--version", &err), 0);
}

TEST_F(OpsTest, ASecondDaemonOnTheSocketStopsAndTheFirstKeepsServing) {
  StartDaemon({"--bind", ns_->a()});
  std::string err;
  EXPECT_EQ(RunOtherDaemon(absl::StrCat("--socket ", socket_, " --bind ", ns_->b()), &err), 1);
  EXPECT_THAT(err, HasSubstr(absl::StrCat("another pktpoold (pid ", pid_, ") serves on ",
                                          socket_)))
      << err;
  // The first still answers on its socket, with its binding, and nobody bound the other end.
  EXPECT_EQ(BoundInterfaces(), std::vector<std::string>{ns_->a()});
  EXPECT_TRUE(std::filesystem::exists(socket_));
}

// Two daemons started at the same moment on one socket: the lock lets exactly one win.
TEST_F(OpsTest, TwoDaemonsStartingAtOnceOnOneSocketOneWins) {
  std::string err[2];
  int status[2] = {-1, -1};
  {
    std::thread first([&] {
      status[0] = RunOtherDaemon(absl::StrCat("--socket ", socket_, " --bind ", ns_->a()),
                                 &err[0], 4);
    });
    std::thread second([&] {
      status[1] = RunOtherDaemon(absl::StrCat("--socket ", socket_, " --bind ", ns_->b()),
                                 &err[1], 4);
    });
    first.join();
    second.join();
  }
  // The winner served until SIGTERM (exit 0); the other stopped at once with exit 1.
  EXPECT_EQ(std::min(status[0], status[1]), 0) << err[0] << err[1];
  EXPECT_EQ(std::max(status[0], status[1]), 1) << err[0] << err[1];
  const std::string& loser = status[0] == 1 ? err[0] : err[1];
  EXPECT_THAT(loser, HasSubstr("serves on " + socket_)) << loser;
  EXPECT_THAT(loser, Not(HasSubstr("bound "))) << "the loser bound an interface: " << loser;
}

// Fault table: the stale socket a kill -9 leaves.
TEST_F(OpsTest, AfterKillNineTheNextDaemonTakesTheStaleSocket) {
  StartDaemon({"--bind", ns_->a()});
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  ASSERT_TRUE(std::filesystem::exists(socket_)) << "kill -9 left no socket file to test with";
  StartDaemon({"--bind", ns_->a()});
  EXPECT_EQ(BoundInterfaces(), std::vector<std::string>{ns_->a()});
}

// Fault table: the TCP listen address or the metrics port is taken.
TEST_F(OpsTest, ATakenListenAddressOrMetricsPortIsAClearStartupError) {
  testing::LoopbackListener listener;
  ASSERT_GT(listener.port(), 0);
  const std::string taken = absl::StrCat("127.0.0.1:", listener.port());
  std::string err;
  EXPECT_EQ(RunOtherDaemon(absl::StrCat("--socket ", socket_, " --bind ", ns_->a(),
                                        " --listen ", taken),
                           &err),
            1);
  EXPECT_THAT(err, HasSubstr(taken + " is already in use")) << err;
  EXPECT_THAT(err, HasSubstr("--listen")) << err;
  EXPECT_EQ(RunOtherDaemon(absl::StrCat("--socket ", socket_, " --bind ", ns_->a(),
                                        " --metrics ", taken),
                           &err),
            1);
  EXPECT_THAT(err, HasSubstr(taken + " is already in use")) << err;
  EXPECT_THAT(err, HasSubstr("--metrics")) << err;
  listener.Close();
  // Nothing was left listening: a daemon starts on the same socket now.
  StartDaemon({"--bind", ns_->a()});
  EXPECT_EQ(BoundInterfaces(), std::vector<std::string>{ns_->a()});
}

// ---- the pool memory budget ---------------------------------------------------------

// The sizes ListBindings reports for `interface`'s tx buffers, "COUNTxSIZE".
std::string TxBuffersOf(const v1::ListBindingsResponse& list, const std::string& interface) {
  for (const auto& binding : list.bindings()) {
    if (binding.interface() == interface) {
      return absl::StrCat(binding.options().tx().buffer_count(), "x",
                          binding.options().tx().buffer_size());
    }
  }
  return "";
}

// Fault table: a Bind or TunePool beyond the budget (the 300000 x 64 KiB tune).
TEST_F(OpsTest, PoolMemoryBudgetRefusesBindAndTuneBeyondItAndShowsItsUse) {
  StartDaemon({"--bind", ns_->a(), "--max-pool-memory", "64MiB"});
  const v1::PoolMemory before = AllStats().pool_memory();
  EXPECT_EQ(before.budget_bytes(), 64u << 20);
  EXPECT_GT(before.in_use_bytes(), 16u << 20);  // the default rx buffers alone are 16 MiB
  EXPECT_LT(before.in_use_bytes(), 64u << 20);
  EXPECT_THAT(Stderr(), HasSubstr("pool memory budget: 64 MiB"));

  v1::TunePoolRequest tune;
  tune.set_interface(ns_->a());
  tune.set_pool(v1::POOL_NAME_TX_BUFFERS);
  tune.set_descriptors(300000);
  tune.set_buffer_size(65536);
  v1::TunePoolResponse tuned;
  grpc::Status refused = Call(&v1::PktPool::Stub::TunePool, tune, &tuned);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("asks for 19675200000 bytes"));
  EXPECT_THAT(refused.error_message(), HasSubstr("of the budget of 67108864 bytes"));
  EXPECT_THAT(refused.error_message(),
              HasSubstr(absl::StrCat(before.in_use_bytes(), " bytes (")));

  v1::BindRequest bind;
  bind.set_interface(ns_->b());
  bind.mutable_options()->mutable_rx()->set_buffer_count(1000);
  bind.mutable_options()->mutable_rx()->set_buffer_size(65536);
  v1::BindResponse bound;
  refused = Call(&v1::PktPool::Stub::Bind, bind, &bound);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("Bind of '" + ns_->b() + "' asks for"));

  // Nothing changed, nothing is left over.
  v1::ListBindingsResponse list;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::ListBindings, v1::ListBindingsRequest{}, &list).ok());
  EXPECT_EQ(list.bindings_size(), 1);
  EXPECT_EQ(TxBuffersOf(list, ns_->a()), "2048x2048");
  EXPECT_EQ(AllStats().pool_memory().in_use_bytes(), before.in_use_bytes());

  // Within the budget: applied, and the use shows it (the old generation drains away).
  tune.set_descriptors(4096);
  tune.set_buffer_size(2048);
  ASSERT_TRUE(Call(&v1::PktPool::Stub::TunePool, tune, &tuned).ok());
  const uint64_t grown = before.in_use_bytes() + 2048u * 2048u;  // 2048 more buffers' memory
  EXPECT_TRUE(WaitUntil([&] { return AllStats().pool_memory().in_use_bytes() > grown; },
                        absl::Seconds(5)));
  EXPECT_LT(AllStats().pool_memory().in_use_bytes(), 64u << 20);
}

// Fault table: a client whose deadline passes while the daemon populates a large pool.
// The daemon abandons the call and frees what it built: nothing changed, as the client
// was told.
TEST_F(OpsTest, ABindOrTuneWhoseDeadlinePassesWhilePopulatingChangesNothing) {
  StartDaemon({"--bind", ns_->a()});
  const uint64_t baseline = AllStats().pool_memory().in_use_bytes();
  auto short_call = [](auto call) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    return call(&context);
  };
  // 60000 x 64 KiB: 3.9 GB, a second or more to populate here, well over 200 ms.
  v1::TunePoolRequest tune;
  tune.set_interface(ns_->a());
  tune.set_pool(v1::POOL_NAME_TX_BUFFERS);
  tune.set_descriptors(60000);
  tune.set_buffer_size(65536);
  v1::TunePoolResponse tuned;
  const grpc::Status tune_status = short_call(
      [&](grpc::ClientContext* c) { return stub_->TunePool(c, tune, &tuned); });
  EXPECT_EQ(tune_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << tune_status.error_message();
  v1::BindRequest bind;
  bind.set_interface(ns_->b());
  bind.mutable_options()->mutable_rx()->set_buffer_count(60000);
  bind.mutable_options()->mutable_rx()->set_buffer_size(65536);
  v1::BindResponse bound;
  const grpc::Status bind_status =
      short_call([&](grpc::ClientContext* c) { return stub_->Bind(c, bind, &bound); });
  EXPECT_EQ(bind_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << bind_status.error_message();

  // The daemon gives up within one population step of the deadline; once it has, the
  // binding and the pools are as before and the memory is back.
  ASSERT_TRUE(WaitUntil([&] { return AllStats().pool_memory().in_use_bytes() == baseline; },
                        absl::Seconds(20)))
      << "pool memory in use " << AllStats().pool_memory().in_use_bytes() << ", was " << baseline;
  v1::ListBindingsResponse list;
  ASSERT_TRUE(Call(&v1::PktPool::Stub::ListBindings, v1::ListBindingsRequest{}, &list).ok());
  EXPECT_EQ(list.bindings_size(), 1) << "the abandoned Bind of " << ns_->b() << " stayed";
  EXPECT_EQ(TxBuffersOf(list, ns_->a()), "2048x2048");
  const v1::BindingStats stats = StatsOf(ns_->a());
  for (const v1::PoolStats& pool : stats.pools()) EXPECT_FALSE(pool.draining()) << pool.tag();
  // And a later call with time enough is applied (a modest size: how long 3.9 GB take to
  // populate depends on the host, up to 10 s or more on a fresh VM).
  tune.set_descriptors(4096);
  tune.set_buffer_size(2048);
  const grpc::Status applied = Call(&v1::PktPool::Stub::TunePool, tune, &tuned);
  ASSERT_TRUE(applied.ok()) << applied.error_message();
  ASSERT_TRUE(Call(&v1::PktPool::Stub::ListBindings, v1::ListBindingsRequest{}, &list).ok());
  EXPECT_EQ(TxBuffersOf(list, ns_->a()), "4096x2048");
}

// Entries in /proc/PID/fd: the daemon's open descriptors.
size_t OpenDescriptors(pid_t pid) {
  size_t count = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"), error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

// Fault table: 1,000 clients connecting and dropping their connections, a third of them
// mid-stream. The daemon keeps serving, and its descriptors, streams and pools come back.
TEST_F(OpsTest, AThousandClientsConnectingAndDroppingLeaveNothingBehind) {
  StartDaemon({"--bind", ns_->a()});
  const v1::BindingStats baseline = StatsOf(ns_->a());
  const size_t descriptors = OpenDescriptors(pid_);
  ASSERT_GT(descriptors, 0u);
  // Well inside ctest's 120 s, so a slow daemon fails here with figures, not by timeout.
  const absl::Time deadline = absl::Now() + absl::Seconds(80);
  int calls_ok = 0;
  int rounds = 0;
  for (int i = 0; i < 1000 && absl::Now() < deadline; ++i, ++rounds) {
    // A daemon that died (it once did: a stream's alarm callback touched the stream after
    // finishing it) is reported as such, not as 1,000 calls timing out.
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "pktpoold died after " << i << " clients: " << testing::DescribeWaitStatus(status)
             << "\n" << Stderr();
    }
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    auto channel = grpc::CreateCustomChannel("unix:" + socket_,
                                             grpc::InsecureChannelCredentials(), arguments);
    auto stub = v1::PktPool::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    switch (i % 3) {
      case 0: {  // a call, then the connection goes
        v1::GetStatsResponse stats;
        calls_ok += stub->GetStats(&context, v1::GetStatsRequest{}, &stats).ok() ? 1 : 0;
        break;
      }
      case 1: {  // a capture stream, dropped without reading
        v1::CaptureRequest request;
        request.set_interface(ns_->a());
        auto reader = stub->Capture(&context, request);
        context.TryCancel();
        reader->Finish();
        break;
      }
      default:  // connected, no call at all
        channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
        break;
    }
  }
  EXPECT_EQ(rounds, 1000) << "80 s were not enough for 1,000 clients (4 s is usual)";
  EXPECT_GE(calls_ok, rounds / 3) << "GetStats failed while clients came and went";
  // Still serving; every stream gone, the pools and the descriptors back where they were.
  ASSERT_TRUE(WaitUntil([&] { return Subscribers(ns_->a()) == 0; }, absl::Seconds(10)));
  const v1::BindingStats after = StatsOf(ns_->a());
  EXPECT_EQ(CurrentPool(after, v1::POOL_NAME_RX_PACKETS).in_use(),
            CurrentPool(baseline, v1::POOL_NAME_RX_PACKETS).in_use());
  EXPECT_EQ(CurrentPool(after, v1::POOL_NAME_TX_PACKETS).in_use(), 0u);
  // A closed connection's descriptor goes once gRPC has seen it close: give it a moment.
  EXPECT_TRUE(WaitUntil([&] { return OpenDescriptors(pid_) <= descriptors + 4; },
                        absl::Seconds(10)))
      << OpenDescriptors(pid_) << " descriptors open, " << descriptors << " before";
}

}  // namespace
}  // namespace pktpool
