// The soak test: pktpoold as a process in a namespace of the test's own with two veth
// pairs, under several minutes of sends (SendFrames and StreamSendFrames), captures
// (one long-lived stream per peer end plus short-lived ones opened and cancelled at
// random), live pool tuning every second and one link bounce. At the end it checks
// that every frame the API reported sent was captured byte-exact, that the pools are
// back to their baseline, that the daemon's memory did not grow, and that its log has
// no errors the test did not provoke. See README.md in this directory.
//
// Exit status: 0 pass, 1 fail, 2 usage, 77 skipped (no CAP_NET_ADMIN and CI unset).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "pktpool/v1/pktpool.grpc.pb.h"
#include "tests/soak/soak_frame.h"
#include "tests/soak/soak_ledger.h"
#include "tests/support/process.h"
#include "tests/support/veth_namespace.h"

namespace pktpool::soak {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kSkipExitCode = 77;
constexpr int kPairs = 2;
constexpr const char* kSendEnd[kPairs] = {"soak-a0", "soak-a1"};
constexpr const char* kPeerEnd[kPairs] = {"soak-b0", "soak-b1"};
constexpr int kBouncedPair = 0;  // soak-a0 goes down and up once
// Tuning pauses (and every pool goes back to its start-up sizes) for this long before
// each RSS window, so both windows see the same pool sizes.
constexpr double kQuietSeconds = 15;
// RSS is compared at rest: sends and new chaos streams pause in the quiet windows, and
// the samples of their last kRssWindowSeconds count (after at least one heap trim).
constexpr double kRssWindowSeconds = 5;
constexpr double kRssFirstWindowEnd = 60;  // "the end of the first minute"
constexpr double kRssGrowthLimitPercent = 1.0;
constexpr uint32_t kLongLivedQueueFrames = 65536;

// ---- options ------------------------------------------------------------------------

struct Options {
  double minutes = 3;             // load duration
  double rate_per_pair = 2000;    // frames/s offered per veth pair, all senders together
  uint64_t seed = 0;              // 0: from the clock
  bool stalled_readers = true;    // some chaos streams stop reading (see README)
  // Parts of the load that can be left out, to narrow down a failure.
  bool tune = true, chaos = true, bounce = true;
  bool keep = false;  // keep the directory (daemon log, events.log) even when it passes
  std::string break_mode;  // "", "lose-one", "tiny-queue" or "grow-pool": prove the checks fail
};

void Usage() {
  std::printf(
      "usage: soak_test [--minutes N] [--rate FPS] [--seed S] [--no-stalled-readers] [--keep]\n"
      "                 [--no-tune] [--no-chaos] [--no-bounce]\n"
      "                 [--break lose-one|tiny-queue|grow-pool]\n"
      "  --minutes N   load duration (default $SOAK_MINUTES, else 3); the RSS check needs >= 2\n"
      "  --rate FPS    frames/s offered per veth pair (default 2000)\n"
      "  --seed S      random seed (default: from the clock; printed in the summary)\n"
      "  --no-stalled-readers  no stalled chaos streams (by default a quarter of them\n"
      "                subscribe, read nothing for 8 s, then cancel: a stuck client)\n"
      "  --no-tune, --no-chaos, --no-bounce  leave that part of the load out\n"
      "  --keep        keep the run's directory (pktpoold.stderr, events.log) when it passes\n"
      "  --break MODE  self-test of the checks, must FAIL: lose-one (the accounting ignores\n"
      "                one captured frame), tiny-queue (long-lived capture queue of 8) or\n"
      "                grow-pool (the last window's transmit buffers 8 MiB over baseline)\n");
}

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options options;
  if (const char* env = std::getenv("SOAK_MINUTES"); env != nullptr && *env != '\0') {
    if (!absl::SimpleAtod(env, &options.minutes)) return std::nullopt;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--minutes") {
      if (!absl::SimpleAtod(value(), &options.minutes)) return std::nullopt;
    } else if (arg == "--rate") {
      if (!absl::SimpleAtod(value(), &options.rate_per_pair)) return std::nullopt;
    } else if (arg == "--seed") {
      if (!absl::SimpleAtoi(value(), &options.seed)) return std::nullopt;
    } else if (arg == "--no-stalled-readers") {
      options.stalled_readers = false;
    } else if (arg == "--keep") {
      options.keep = true;
    } else if (arg == "--no-tune") {
      options.tune = false;
    } else if (arg == "--no-chaos") {
      options.chaos = false;
    } else if (arg == "--no-bounce") {
      options.bounce = false;
    } else if (arg == "--break") {
      options.break_mode = value();
      if (options.break_mode != "lose-one" && options.break_mode != "tiny-queue" &&
          options.break_mode != "grow-pool") {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  if (options.minutes <= 0 || options.minutes > 24 * 60 || options.rate_per_pair < 10 ||
      options.rate_per_pair > 200000) {
    return std::nullopt;
  }
  return options;
}

// ---- small helpers ------------------------------------------------------------------

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return absl::StrCat("code ", static_cast<int>(code));
  }
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(CodeName(status.error_code()), ": ", status.error_message());
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(d);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// RssAnon, RssFile and RssShmem of `pid`, for events.log.
std::string MemoryBreakdown(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line, out;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0 || line.rfind("RssFile:", 0) == 0 ||
        line.rfind("RssShmem:", 0) == 0) {
      std::vector<std::string> words = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      if (words.size() >= 2) absl::StrAppend(&out, out.empty() ? "" : " ", words[0], " ", words[1]);
    }
  }
  return out;
}

// False once `pid` has exited (gone or a zombie).
bool Alive(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// A channel of its own (no subchannel shared with other channels to the same socket).
std::shared_ptr<grpc::Channel> NewChannel(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

// Unary call with a deadline.
template <typename Request, typename Response, typename Method>
grpc::Status Call(v1::PktPool::Stub* stub, Method method, const Request& request,
                  Response* response, absl::Duration timeout = absl::Seconds(10)) {
  grpc::ClientContext context;
  context.set_deadline(In(timeout));
  return (stub->*method)(&context, request, response);
}

// Pool sizes of one binding, as the tuner believes them to be.
struct BindingSizes {
  v1::PoolSizes rx, tx;
};

// Receive buffers a frame of up to 1514 bytes needs: the daemon's chains are built for
// MTU + 18 bytes.
uint32_t ChainLength(uint32_t buffer_size) { return (1500 + 18 + buffer_size - 1) / buffer_size; }

// ---- the run ------------------------------------------------------------------------

class SoakRun {
 public:
  explicit SoakRun(Options options) : options_(std::move(options)) {}
  int Main();

 private:
  // Time since the load started, seconds.
  double Elapsed() const { return absl::ToDoubleSeconds(absl::Now() - load_start_); }
  double Duration() const { return options_.minutes * 60; }
  // Sleeps up to `d`, in short slices; false when the load was stopped meanwhile.
  bool SleepUnlessStopped(absl::Duration d) const {
    const absl::Time until = absl::Now() + d;
    while (!stop_.load()) {
      const absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) return true;
      absl::SleepFor(std::min(left, absl::Milliseconds(50)));
    }
    return false;
  }
  // Senders and the chaos client wait here while the load is at rest (the quiet windows),
  // so RSS is compared without frames in flight; false when the load was stopped.
  bool WaitWhileAtRest() const {
    while (!stop_.load() && InQuietWindow(Elapsed())) absl::SleepFor(absl::Milliseconds(50));
    return !stop_.load();
  }
  bool InQuietWindow(double t) const {
    const bool first = Duration() >= 2 * kRssFirstWindowEnd && t >= kRssFirstWindowEnd - kQuietSeconds &&
                       t < kRssFirstWindowEnd;
    return first || t >= Duration() - kQuietSeconds;
  }
  // One line in <dir>/events.log (tunes, the bounce, capture stream ends, RSS samples).
  void Event(const std::string& what) {
    std::lock_guard<std::mutex> lock(events_mu_);
    if (!events_.is_open()) return;
    events_ << absl::StrFormat("%8.3f ", load_start_ == absl::InfiniteFuture() ? 0.0 : Elapsed())
            << what << "\n";
  }
  void Fail(int invariant, const std::string& what) {
    Event(absl::StrCat("FAIL ", invariant, ": ", what));
    std::lock_guard<std::mutex> lock(failures_mu_);
    failures_[invariant].push_back(what);
  }

  bool Setup();
  bool StartDaemon();
  bool RecordBaseline();
  // A failure reason seen on `pair` at time `t`: expected (the bounce, RESOURCES from
  // tuning) or not (recorded in `ledger->unexpected`).
  void Classify(SenderLedger* ledger, const std::string& reason, double t);
  void UnarySender(SenderLedger* ledger, bool paced, double rate, uint64_t seed);
  void StreamSender(SenderLedger* ledger, double rate, uint64_t seed);
  void LongLivedCapture(int pair);
  void ChaosCaptures(uint64_t seed);
  void Tuner(uint64_t seed);
  bool Tune(v1::PktPool::Stub* stub, int binding, v1::PoolName pool, uint32_t descriptors,
            uint32_t overflow, uint32_t buffer_size);
  void RestoreBaselineSizes(v1::PktPool::Stub* stub);
  void Bouncer();
  void Sampler();       // pktpoold's RSS every second
  void StatsWatcher();  // the peer ends' counters every 250 ms, into events.log
  // When a binding's pcap_dropped + rx_resource_drops moved (StatsWatcher's view).
  struct LossSpan {
    double first = -1, last = -1;
    uint64_t total = 0;
  };
  std::map<std::string, LossSpan> losses_;  // StatsWatcher thread; read after it is joined
  void SettleCaptures();
  void CheckPoolsBack();
  void CheckRss();
  void StopDaemon();
  void CheckLog();
  void PrintSummary();

  const Options options_;
  uint64_t seed_ = 0;
  std::unique_ptr<testing::VethNamespace> ns_;
  std::string dir_, socket_, config_;
  std::unique_ptr<testing::ChildProcess> daemon_;
  std::string daemon_stderr_;
  int daemon_exit_code_ = -2;
  std::shared_ptr<grpc::Channel> control_channel_;
  std::unique_ptr<v1::PktPool::Stub> control_;
  absl::Time load_start_ = absl::InfiniteFuture();
  std::atomic<bool> stop_{false};

  // Bindings in order: a0, b0, a1, b1.
  std::vector<std::string> bindings_;
  std::map<std::string, BindingSizes> baseline_sizes_;
  std::map<std::string, std::map<v1::PoolName, uint32_t>> baseline_in_use_;
  std::map<std::string, std::map<std::string, uint64_t>> baseline_memory_;  // tag -> bytes
  std::map<std::string, BindingSizes> sizes_;  // tuner thread only

  std::vector<std::unique_ptr<SenderLedger>> ledgers_;
  std::vector<int> sender_pair_;
  CaptureTally tallies_[kPairs];
  std::atomic<uint64_t> verified_[kPairs] = {};
  std::atomic<bool> capture_ready_[kPairs] = {};
  std::atomic<bool> captures_cancelled_{false};
  grpc::ClientContext* capture_contexts_[kPairs] = {};
  std::mutex capture_mu_;
  std::string capture_end_[kPairs];

  // Link bounce of soak-a0, seconds since the load started (-1: not yet).
  std::atomic<double> down_at_{-1}, up_at_{-1}, up_seen_at_{-1};

  // Tuner counters (tuner thread; read after it is joined).
  uint64_t tunes_ = 0, tunes_clamped_ = 0, restores_ = 0;
  std::map<std::string, uint64_t> tunes_by_pool_;
  // Chaos counters.
  uint64_t chaos_opened_ = 0, chaos_stalled_ = 0, chaos_cancelled_ = 0, chaos_by_count_ = 0, chaos_frames_ = 0,
           chaos_dropped_ = 0;
  // RSS samples: (seconds since load start, kB).
  std::mutex rss_mu_;
  std::vector<std::pair<double, uint64_t>> rss_;

  std::mutex events_mu_;
  std::ofstream events_;
  std::mutex failures_mu_;
  std::map<int, std::vector<std::string>> failures_;  // invariant (0: setup/other) -> what
  std::vector<std::string> notes_;                    // printed in the summary
  v1::GetStatsResponse final_stats_;
  std::vector<PairReport> reports_;
};

// ---- setup --------------------------------------------------------------------------

bool SoakRun::Setup() {
  seed_ = options_.seed != 0 ? options_.seed
                             : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  auto ns = testing::VethNamespace::Create(kSendEnd[0], kPeerEnd[0]);
  if (!ns.ok()) {
    Fail(0, absl::StrCat("cannot create the namespace: ", ns.status().ToString()));
    return false;
  }
  ns_ = std::move(*ns);
  if (ns_->Run(absl::StrCat("ip link add ", kSendEnd[1], " type veth peer name ", kPeerEnd[1],
                            " && ip link set ", kSendEnd[1], " up && ip link set ", kPeerEnd[1],
                            " up")) != 0) {
    Fail(0, "cannot create the second veth pair");
    return false;
  }
  if (!ns_->Enter().ok()) {
    Fail(0, "cannot enter the namespace");
    return false;
  }
  char dir_template[] = "/tmp/pktpool-soak-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    Fail(0, "mkdtemp failed");
    return false;
  }
  dir_ = dir_template;
  socket_ = dir_ + "/pktpoold.sock";
  config_ = dir_ + "/pktpoold.textproto";
  events_.open(dir_ + "/events.log");
  bindings_ = {kSendEnd[0], kPeerEnd[0], kSendEnd[1], kPeerEnd[1]};
  {
    // rx_hold_when_exhausted: a burst that finds every receive packet out waits in the
    // kernel ring instead of being dropped by design, so a loss means a bug (or a full
    // ring, which pcap_dropped reports).
    std::ofstream out(config_);
    for (const std::string& name : bindings_) {
      out << "bindings { interface: \"" << name << "\" options { rx_hold_when_exhausted: true } }\n";
    }
  }
  return StartDaemon() && RecordBaseline();
}

bool SoakRun::StartDaemon() {
  // pktpoold as it runs in production: no malloc settings from the environment (its pool
  // memory is mapped and populated, its heap trimmed and its malloc set up at start; see
  // daemon/heap_trimmer.h and daemon/process_settings.h).
  daemon_ = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{PKTPOOLD_PATH, "--config", config_, "--socket", socket_});
  if (!daemon_->started()) {
    Fail(0, "cannot start pktpoold");
    return false;
  }
  control_channel_ = NewChannel(socket_);
  bool connected = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (!connected && absl::Now() < deadline && Alive(daemon_->pid())) {
    connected = control_channel_->WaitForConnected(In(absl::Milliseconds(200)));
  }
  if (!connected) {
    Fail(0, absl::StrCat("pktpoold did not listen on ", socket_, "; its stderr:\n", daemon_->Err()));
    return false;
  }
  control_ = v1::PktPool::NewStub(control_channel_);
  return true;
}

bool SoakRun::RecordBaseline() {
  v1::ListBindingsResponse list;
  grpc::Status listed = Call(control_.get(), &v1::PktPool::Stub::ListBindings,
                             v1::ListBindingsRequest{}, &list);
  if (!listed.ok() || list.bindings_size() != 4) {
    Fail(0, absl::StrCat("ListBindings: ", Describe(listed), ", ", list.bindings_size(),
                         " bindings (want 4)"));
    return false;
  }
  for (const v1::BindingInfo& info : list.bindings()) {
    if (info.state() != v1::BINDING_STATE_UP) {
      Fail(0, absl::StrCat(info.interface(), " is not UP at start"));
      return false;
    }
    baseline_sizes_[info.interface()] = {info.options().rx(), info.options().tx()};
  }
  sizes_ = baseline_sizes_;
  v1::GetStatsResponse stats;
  grpc::Status got = Call(control_.get(), &v1::PktPool::Stub::GetStats, v1::GetStatsRequest{}, &stats);
  if (!got.ok()) {
    Fail(0, absl::StrCat("GetStats: ", Describe(got)));
    return false;
  }
  for (const v1::BindingStats& binding : stats.bindings()) {
    const std::string& name = binding.binding().interface();
    for (const v1::PoolStats& pool : binding.pools()) {
      if (!pool.draining()) baseline_in_use_[name][pool.name()] = pool.in_use();
    }
    for (const v1::TagUsage& tag : binding.memory()) {
      baseline_memory_[name][tag.tag()] = tag.bytes_outstanding();
    }
  }
  return true;
}

// ---- senders ------------------------------------------------------------------------

void SoakRun::Classify(SenderLedger* ledger, const std::string& reason, double t) {
  // Pool tuning makes tx pools small at times: RESOURCES is part of the load.
  if (reason == "SEND_RESULT_RESOURCES" || reason == "status RESOURCE_EXHAUSTED") return;
  const bool link_reason = reason == "SEND_RESULT_BINDING_DOWN" ||
                           reason == "SEND_RESULT_INJECT_FAILED" || reason == "status UNAVAILABLE";
  if (link_reason && ledger->pair == kBouncedPair) {
    // While soak-a0 is down, and until the binding is seen UP again (plus a margin for
    // the calls that were in flight).
    const double down = down_at_.load(), seen = up_seen_at_.load();
    if (down >= 0 && t >= down - 0.5 && (seen < 0 || t <= seen + 3)) return;
  }
  if (ledger->unexpected.size() < 20) {
    ledger->unexpected.push_back(absl::StrFormat("%s at %.1f s", reason, t));
  } else if (ledger->unexpected.size() == 20) {
    ledger->unexpected.push_back("(more not listed)");
  }
}

void SoakRun::UnarySender(SenderLedger* ledger, bool paced, double rate, uint64_t seed) {
  std::mt19937_64 random(seed);
  auto channel = NewChannel(socket_);
  auto stub = v1::PktPool::NewStub(channel);
  const int max_batch = paced ? 128 : 256;
  absl::Time start = absl::Now();
  double planned = 0;
  std::vector<uint32_t> sequences;
  std::vector<uint64_t> hashes;
  while (WaitWhileAtRest()) {
    const int n = std::uniform_int_distribution<int>(1, max_batch)(random);
    v1::SendFramesRequest request;
    request.set_interface(kSendEnd[ledger->pair]);
    sequences.clear();
    hashes.clear();
    for (int i = 0; i < n; ++i) {
      const uint32_t sequence = ledger->Next();
      std::string frame = SoakFrame(ledger->id, sequence);
      sequences.push_back(sequence);
      hashes.push_back(FrameHash(frame));
      request.add_frames(std::move(frame));
    }
    if (random() % 2 == 0) {
      *request.mutable_wait_for_resources() = TimeUtil::MillisecondsToDuration(250);
    }
    if (paced) request.set_frames_per_second(rate * 4);
    v1::SendFramesResponse response;
    const grpc::Status status = Call(stub.get(), &v1::PktPool::Stub::SendFrames, request,
                                     &response, absl::Seconds(30));
    ++ledger->calls;
    const double t = Elapsed();
    if (!status.ok()) {
      for (uint32_t sequence : sequences) ledger->Record(sequence, Outcome::kMaybe, 0);
      const std::string reason = absl::StrCat("status ", CodeName(status.error_code()));
      ledger->failures[reason] += n;
      Classify(ledger, reason, t);
    } else if (response.outcomes_size() != n) {
      for (uint32_t sequence : sequences) ledger->Record(sequence, Outcome::kMaybe, 0);
      ledger->unexpected.push_back(absl::StrCat(response.outcomes_size(), " outcomes for ", n,
                                                " frames"));
    } else {
      uint64_t sent = 0, failed = 0;
      for (int i = 0; i < n; ++i) {
        const v1::FrameOutcome& outcome = response.outcomes(i);
        if (outcome.result() == v1::SEND_RESULT_SENT && outcome.sent() == 1) {
          ledger->Record(sequences[i], Outcome::kSent, hashes[i]);
          ++sent;
        } else if (outcome.result() == v1::SEND_RESULT_SENT) {
          ledger->Record(sequences[i], Outcome::kMaybe, 0);
          ledger->unexpected.push_back(absl::StrCat("SENT with sent=", outcome.sent()));
        } else {
          ledger->Record(sequences[i], Outcome::kFailed, 0);
          ++failed;
          const std::string reason = v1::SendResult_Name(outcome.result());
          ++ledger->failures[reason];
          Classify(ledger, reason, t);
        }
      }
      if (response.frames_sent() != sent || response.frames_failed() != failed) {
        ledger->unexpected.push_back(absl::StrCat("totals ", response.frames_sent(), "/",
                                                  response.frames_failed(), " but outcomes say ",
                                                  sent, "/", failed));
      }
    }
    planned += n;
    absl::Time due = start + absl::Seconds(planned / rate);
    if (due < absl::Now() - absl::Seconds(1)) {  // far behind (a slow call): no burst
      start = absl::Now();
      planned = 0;
      due = start;
    }
    if (!SleepUnlessStopped(due - absl::Now())) break;
  }
}

void SoakRun::StreamSender(SenderLedger* ledger, double rate, uint64_t seed) {
  std::mt19937_64 random(seed);
  auto channel = NewChannel(socket_);
  auto stub = v1::PktPool::NewStub(channel);
  absl::Time start = absl::Now();
  double planned = 0;
  std::vector<uint32_t> sequences;
  std::vector<uint64_t> hashes;
  while (WaitWhileAtRest()) {
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(120)));
    v1::SendFramesResponse totals;
    auto writer = stub->StreamSendFrames(&context, &totals);
    sequences.clear();
    hashes.clear();
    const int messages = std::uniform_int_distribution<int>(1, 40)(random);
    bool broken = false;
    for (int m = 0; m < messages && !broken && !stop_.load(); ++m) {
      const int n = std::uniform_int_distribution<int>(1, 128)(random);
      v1::SendFramesRequest request;
      request.set_interface(kSendEnd[ledger->pair]);
      *request.mutable_wait_for_resources() = TimeUtil::MillisecondsToDuration(250);
      for (int i = 0; i < n; ++i) {
        const uint32_t sequence = ledger->Next();
        std::string frame = SoakFrame(ledger->id, sequence);
        sequences.push_back(sequence);
        hashes.push_back(FrameHash(frame));
        request.add_frames(std::move(frame));
      }
      broken = !writer->Write(request);
      planned += n;
      absl::Time due = start + absl::Seconds(planned / rate);
      if (due < absl::Now() - absl::Seconds(1)) {
        start = absl::Now();
        planned = 0;
        due = start;
      }
      SleepUnlessStopped(due - absl::Now());
    }
    if (!broken) writer->WritesDone();
    const grpc::Status status = writer->Finish();
    ++ledger->calls;
    const double t = Elapsed();
    // The stream's answer is totals only: its frames count as sent only when all are.
    const bool all_sent = status.ok() && totals.frames_sent() == sequences.size() &&
                          totals.frames_failed() == 0;
    for (size_t i = 0; i < sequences.size(); ++i) {
      ledger->Record(sequences[i], all_sent ? Outcome::kSent : Outcome::kMaybe, hashes[i]);
    }
    if (!status.ok()) {
      const std::string reason = absl::StrCat("status ", CodeName(status.error_code()));
      ledger->failures[reason] += sequences.size();
      Classify(ledger, reason, t);
    } else if (!all_sent) {
      ledger->failures["stream with failed frames"] += sequences.size();
      if (totals.frames_sent() + totals.frames_failed() != sequences.size()) {
        ledger->unexpected.push_back(absl::StrCat("stream totals ", totals.frames_sent(), "+",
                                                  totals.frames_failed(), " for ",
                                                  sequences.size(), " frames"));
      }
    }
  }
}

// ---- captures -----------------------------------------------------------------------

void SoakRun::LongLivedCapture(int pair) {
  auto channel = NewChannel(socket_);
  auto stub = v1::PktPool::NewStub(channel);
  grpc::ClientContext context;
  // Bounded: the run, the settling and a generous margin.
  context.set_deadline(In(absl::Seconds(Duration() + 600)));
  {
    std::lock_guard<std::mutex> lock(capture_mu_);
    capture_contexts_[pair] = &context;
    if (captures_cancelled_.load()) context.TryCancel();
  }
  v1::CaptureRequest request;
  request.set_interface(kPeerEnd[pair]);
  request.set_queue_frames(options_.break_mode == "tiny-queue" ? 8 : kLongLivedQueueFrames);
  auto reader = stub->Capture(&context, request);
  reader->WaitForInitialMetadata();  // the subscription is active: every later frame comes
  capture_ready_[pair].store(true);
  CaptureTally& tally = tallies_[pair];
  tally.pair = pair;
  bool skip_one = options_.break_mode == "lose-one" && pair == 0;
  v1::CaptureResponse response;
  while (reader->Read(&response)) {
    for (const v1::CapturedFrame& frame : response.frames()) {
      if (skip_one && ParseSoakFrame(frame.data()).has_value()) {
        skip_one = false;  // --break lose-one: the accounting "misses" this frame
        continue;
      }
      tally.Add(frame.data(), frame.wire_length(), sender_pair_);
    }
    tally.last_dropped = std::max<uint64_t>(tally.last_dropped, response.dropped());
    verified_[pair].store(tally.verified);
  }
  const grpc::Status status = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(capture_mu_);
    capture_contexts_[pair] = nullptr;
    capture_end_[pair] = absl::StrFormat("%s at %.1f s", Describe(status), Elapsed());
  }
  if (!captures_cancelled_.load() || status.error_code() != grpc::StatusCode::CANCELLED) {
    Fail(1, absl::StrCat("the long-lived capture on ", kPeerEnd[pair], " ended ",
                         captures_cancelled_.load() ? "" : "before the test cancelled it ",
                         "with ", capture_end_[pair]));
  }
}

void SoakRun::ChaosCaptures(uint64_t seed) {
  std::mt19937_64 random(seed);
  auto channel = NewChannel(socket_);
  auto stub = v1::PktPool::NewStub(channel);
  static const char* const kFilters[] = {"", "ether proto 0x88b5", "len > 800"};
  while (SleepUnlessStopped(
             absl::Milliseconds(std::uniform_int_distribution<int>(100, 1500)(random))) &&
         WaitWhileAtRest()) {
    const int pair = static_cast<int>(random() % kPairs);
    v1::CaptureRequest request;
    request.set_interface(kPeerEnd[pair]);
    request.set_queue_frames(std::uniform_int_distribution<uint32_t>(64, 2048)(random));
    request.set_max_batch_frames(std::uniform_int_distribution<uint32_t>(1, 512)(random));
    const std::string filter = kFilters[random() % 3];
    request.set_filter(filter);
    if (random() % 10 < 3) request.set_count(std::uniform_int_distribution<uint64_t>(1, 2000)(random));
    // A stalled stream subscribes, reads nothing for 8 s (a stuck client), then cancels.
    const bool stalled = options_.stalled_readers && random() % 4 == 0;
    const absl::Duration cancel_after =
        stalled ? absl::Seconds(8)
        : random() % 7 == 0
            ? absl::ZeroDuration()
            : absl::Milliseconds(std::uniform_int_distribution<int>(20, 3000)(random));
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(60)));
    ++chaos_opened_;
    chaos_stalled_ += stalled ? 1 : 0;
    Event(absl::StrCat(stalled ? "stalled " : "", "chaos capture opening on ", kPeerEnd[pair],
                       " filter '", filter, "' queue ", request.queue_frames(), " batch ",
                       request.max_batch_frames(), " count ", request.count()));
    auto reader = stub->Capture(&context, request);
    std::atomic<bool> finished{false}, cancelled{false};
    std::thread canceller([&] {
      const absl::Time at = absl::Now() + cancel_after;
      while (!finished.load() && !stop_.load() && absl::Now() < at) {
        absl::SleepFor(absl::Milliseconds(5));
      }
      if (!finished.load()) context.TryCancel();
      cancelled.store(true);
    });
    if (stalled) {
      reader->WaitForInitialMetadata();
      while (!finished.load() && !stop_.load() && !cancelled.load()) {
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
    uint64_t frames = 0;
    v1::CaptureResponse response;
    while (reader->Read(&response)) {
      for (const v1::CapturedFrame& frame : response.frames()) {
        ++frames;
        const std::optional<FrameId> id = ParseSoakFrame(frame.data());
        const bool valid = id && id->sender < sender_pair_.size() &&
                           sender_pair_[id->sender] == pair &&
                           frame.data() == SoakFrame(id->sender, id->sequence);
        const bool filtered_ok = filter != "len > 800" || frame.wire_length() > 800;
        if (!valid || !filtered_ok) {
          Fail(1, absl::StrCat("chaos capture on ", kPeerEnd[pair], " (filter '", filter,
                               "') got a ", valid ? "frame its filter excludes" : "bad frame",
                               " of ", frame.data().size(), " bytes"));
        }
      }
      chaos_dropped_ = std::max<uint64_t>(chaos_dropped_, response.dropped());
    }
    const grpc::Status status = reader->Finish();
    finished.store(true);
    canceller.join();
    chaos_frames_ += frames;
    Event(absl::StrCat(stalled ? "stalled " : "", "chaos capture on ", kPeerEnd[pair], " filter '", filter, "' queue ",
                       request.queue_frames(), " count ", request.count(), ": ", frames,
                       " frames, ", Describe(status)));
    if (status.error_code() == grpc::StatusCode::CANCELLED) {
      ++chaos_cancelled_;
    } else if (status.ok() && request.count() != 0 && frames == request.count()) {
      ++chaos_by_count_;
    } else {
      Fail(1, absl::StrFormat("chaos capture on %s (count %d, %d frames read) ended with %s at "
                              "%.1f s",
                              kPeerEnd[pair], request.count(), frames, Describe(status),
                              Elapsed()));
    }
  }
}

// ---- tuning, link bounce, RSS ---------------------------------------------------------

bool SoakRun::Tune(v1::PktPool::Stub* stub, int binding, v1::PoolName pool, uint32_t descriptors,
                   uint32_t overflow, uint32_t buffer_size) {
  const std::string& name = bindings_[binding];
  v1::TunePoolRequest request;
  request.set_interface(name);
  request.set_pool(pool);
  request.set_descriptors(descriptors);
  request.set_overflow(overflow);
  request.set_buffer_size(buffer_size);
  v1::TunePoolResponse response;
  const grpc::Status status = Call(stub, &v1::PktPool::Stub::TunePool, request, &response);
  const std::string what = absl::StrCat("TunePool ", name, " ", v1::PoolName_Name(pool), " ",
                                        descriptors, "/", overflow, "/", buffer_size);
  if (!status.ok()) {
    Fail(2, absl::StrCat(what, ": ", Describe(status)));
    return false;
  }
  ++tunes_;
  ++tunes_by_pool_[v1::PoolName_Name(pool)];
  const v1::PoolStats& applied = response.applied();
  const bool packets = pool == v1::POOL_NAME_RX_PACKETS || pool == v1::POOL_NAME_TX_PACKETS;
  const uint32_t want_overflow = std::min<uint32_t>(overflow, 65535 - descriptors);
  const bool want_clamped = packets && descriptors + overflow > 65535;
  bool right = applied.descriptors() == descriptors && response.overflow_clamped() == want_clamped;
  if (packets) right = right && applied.overflow_limit() == want_overflow;
  if (!packets) right = right && applied.buffer_size() == buffer_size;
  if (!right) {
    Fail(2, absl::StrCat(what, " applied ", applied.ShortDebugString(),
                         " clamped=", response.overflow_clamped()));
  }
  tunes_clamped_ += response.overflow_clamped() ? 1 : 0;
  Event(absl::StrCat(what, " -> generation ", applied.generation(), " overflow_limit ",
                     applied.overflow_limit(), response.overflow_clamped() ? " (clamped)" : ""));
  BindingSizes& sizes = sizes_[name];
  switch (pool) {
    case v1::POOL_NAME_RX_PACKETS:
      sizes.rx.set_packet_descriptors(descriptors);
      sizes.rx.set_packet_overflow(want_overflow);
      break;
    case v1::POOL_NAME_RX_BUFFERS:
      sizes.rx.set_buffer_count(descriptors);
      sizes.rx.set_buffer_size(buffer_size);
      break;
    case v1::POOL_NAME_TX_PACKETS:
      sizes.tx.set_packet_descriptors(descriptors);
      sizes.tx.set_packet_overflow(want_overflow);
      break;
    case v1::POOL_NAME_TX_BUFFERS:
      sizes.tx.set_buffer_count(descriptors);
      sizes.tx.set_buffer_size(buffer_size);
      break;
    default: break;
  }
  return true;
}

void SoakRun::RestoreBaselineSizes(v1::PktPool::Stub* stub) {
  for (int b = 0; b < static_cast<int>(bindings_.size()); ++b) {
    const BindingSizes& base = baseline_sizes_[bindings_[b]];
    const BindingSizes now = sizes_[bindings_[b]];
    auto restore_rx_packets = [&] {
      if (now.rx.packet_descriptors() != base.rx.packet_descriptors() ||
          now.rx.packet_overflow() != base.rx.packet_overflow()) {
        Tune(stub, b, v1::POOL_NAME_RX_PACKETS, base.rx.packet_descriptors(),
             base.rx.packet_overflow(), 0);
        ++restores_;
      }
    };
    auto restore_rx_buffers = [&] {
      if (now.rx.buffer_count() != base.rx.buffer_count() ||
          now.rx.buffer_size() != base.rx.buffer_size()) {
        Tune(stub, b, v1::POOL_NAME_RX_BUFFERS, base.rx.buffer_count(), 0, base.rx.buffer_size());
        ++restores_;
      }
    };
    // Keep receive buffers >= packets x chain at every step.
    if (base.rx.packet_descriptors() + base.rx.packet_overflow() <=
        now.rx.packet_descriptors() + now.rx.packet_overflow()) {
      restore_rx_packets();
      restore_rx_buffers();
    } else {
      restore_rx_buffers();
      restore_rx_packets();
    }
    if (now.tx.packet_descriptors() != base.tx.packet_descriptors() ||
        now.tx.packet_overflow() != base.tx.packet_overflow()) {
      Tune(stub, b, v1::POOL_NAME_TX_PACKETS, base.tx.packet_descriptors(),
           base.tx.packet_overflow(), 0);
      ++restores_;
    }
    if (now.tx.buffer_count() != base.tx.buffer_count() ||
        now.tx.buffer_size() != base.tx.buffer_size()) {
      Tune(stub, b, v1::POOL_NAME_TX_BUFFERS, base.tx.buffer_count(), 0, base.tx.buffer_size());
      ++restores_;
    }
  }
}

void SoakRun::Tuner(uint64_t seed) {
  std::mt19937_64 random(seed);
  auto channel = NewChannel(socket_);
  auto stub = v1::PktPool::NewStub(channel);
  auto uniform = [&](uint32_t low, uint32_t high) {
    return std::uniform_int_distribution<uint32_t>(low, high)(random);
  };
  bool quiet = false;
  while (SleepUnlessStopped(absl::Seconds(1))) {
    if (InQuietWindow(Elapsed())) {
      if (!quiet) {  // once per window
        RestoreBaselineSizes(stub.get());
        if (options_.break_mode == "grow-pool" && Elapsed() >= Duration() - kQuietSeconds) {
          // --break grow-pool: the last window runs with 8 MiB more transmit buffers on
          // the first binding, memory the daemon holds and RSS must show.
          const BindingSizes& base = baseline_sizes_[bindings_[0]];
          Tune(stub.get(), 0, v1::POOL_NAME_TX_BUFFERS, base.tx.buffer_count() + 4096, 0, 2048);
        }
      }
      quiet = true;
      continue;
    }
    quiet = false;
    const int binding = static_cast<int>(random() % bindings_.size());
    const BindingSizes& now = sizes_[bindings_[binding]];
    const auto pool = static_cast<v1::PoolName>(1 + random() % 4);
    if (pool == v1::POOL_NAME_RX_PACKETS) {
      // Within what the receive buffers can chain, so buffers never run out first.
      const uint32_t room = now.rx.buffer_count() / ChainLength(now.rx.buffer_size());
      uint32_t overflow = random() % 10 < 7 ? 0 : uniform(1, 512);
      overflow = std::min(overflow, room - 256);
      const uint32_t descriptors = std::min(uniform(512, 4096), room - overflow);
      Tune(stub.get(), binding, pool, descriptors, overflow, 0);
    } else if (pool == v1::POOL_NAME_RX_BUFFERS) {
      static const uint32_t kSizes[] = {256, 512, 1024, 2048};
      const uint32_t size = kSizes[random() % 4];
      const uint32_t count =
          (now.rx.packet_descriptors() + now.rx.packet_overflow()) * ChainLength(size) +
          uniform(0, 1024);
      Tune(stub.get(), binding, pool, count, 0, size);
    } else if (pool == v1::POOL_NAME_TX_PACKETS) {
      if (random() % 100 < 15) {
        // Near the 0xFFFF cap with an overflow: clamped (NdisAllocatePacketPoolEx).
        Tune(stub.get(), binding, pool, uniform(60000, 65535), uniform(6000, 20000), 0);
      } else {
        Tune(stub.get(), binding, pool, uniform(64, 2048), random() % 10 < 6 ? 0 : uniform(1, 256), 0);
      }
    } else {
      static const uint32_t kSizes[] = {128, 256, 512, 1024, 2048};
      Tune(stub.get(), binding, pool, uniform(256, 4096), 0, kSizes[random() % 5]);
    }
  }
}

void SoakRun::Bouncer() {
  if (!SleepUnlessStopped(absl::Seconds(Duration() / 2))) return;
  const std::string end = kSendEnd[kBouncedPair];
  down_at_.store(Elapsed());
  Event(absl::StrCat("ip link set ", end, " down"));
  if (ns_->Run(absl::StrCat("ip link set ", end, " down")) != 0) {
    Fail(0, absl::StrCat("ip link set ", end, " down failed"));
  }
  absl::SleepFor(absl::Seconds(2));
  if (ns_->Run(absl::StrCat("ip link set ", end, " up")) != 0) {
    Fail(0, absl::StrCat("ip link set ", end, " up failed"));
  }
  up_at_.store(Elapsed());
  Event(absl::StrCat("ip link set ", end, " up"));
  auto channel = NewChannel(socket_);
  auto stub = v1::PktPool::NewStub(channel);
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline) {
    v1::ListBindingsResponse list;
    if (Call(stub.get(), &v1::PktPool::Stub::ListBindings, v1::ListBindingsRequest{}, &list).ok()) {
      for (const v1::BindingInfo& info : list.bindings()) {
        if (info.interface() == end && info.state() == v1::BINDING_STATE_UP) {
          up_seen_at_.store(Elapsed());
          Event(absl::StrCat(end, " is UP in ListBindings"));
          return;
        }
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  Fail(1, absl::StrCat(end, " was not UP again within 15 s of ip link set up"));
}

void SoakRun::Sampler() {
  while (true) {
    const std::optional<uint64_t> kb = testing::ResidentKb(daemon_->pid());
    if (!kb || !Alive(daemon_->pid())) {
      Fail(0, absl::StrFormat("pktpoold exited during the load (at %.1f s)", Elapsed()));
      stop_.store(true);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(rss_mu_);
      rss_.emplace_back(Elapsed(), *kb);
    }
    Event(absl::StrCat("VmRSS ", *kb, " kB (", MemoryBreakdown(daemon_->pid()), ")"));
    if (!SleepUnlessStopped(absl::Seconds(1))) return;
  }
}

void SoakRun::StatsWatcher() {
  auto channel = NewChannel(socket_);
  auto stub = v1::PktPool::NewStub(channel);
  do {
    v1::GetStatsResponse stats;
    if (!Call(stub.get(), &v1::PktPool::Stub::GetStats, v1::GetStatsRequest{}, &stats).ok()) {
      continue;
    }
    for (const v1::BindingStats& b : stats.bindings()) {
      if (b.rx_frames() == 0) continue;  // the sending ends receive nothing
      const std::string& name = b.binding().interface();
      std::string line = absl::StrCat(name, " rx ", b.rx_frames(), " pcap_dropped ",
                                      b.pcap_dropped(), " rx_resource_drops ",
                                      b.rx_resource_drops());
      for (const v1::PoolStats& pool : b.pools()) {
        if (pool.name() == v1::POOL_NAME_RX_PACKETS && !pool.draining()) {
          absl::StrAppend(&line, " RXPK in_use ", pool.in_use(), "/",
                          pool.descriptors() + pool.overflow_limit());
        }
      }
      for (const v1::SubscriberStats& sub : b.subscribers()) {
        absl::StrAppend(&line, " [queued ", sub.queued(), "/", sub.capacity(), " dropped ",
                        sub.dropped(), "]");
      }
      Event(line);
      const uint64_t now = b.pcap_dropped() + b.rx_resource_drops();
      LossSpan& span = losses_[name];
      if (now != span.total) {
        if (span.total == 0) span.first = Elapsed();
        span.last = Elapsed();
        span.total = now;
      }
    }
  } while (SleepUnlessStopped(absl::Milliseconds(250)));
}

// ---- the end ------------------------------------------------------------------------

void SoakRun::SettleCaptures() {
  uint64_t expected[kPairs] = {};
  for (const auto& ledger : ledgers_) expected[ledger->pair] += ledger->sent;
  // Until each capture holds at least what was reported sent and has been quiet for a
  // second, or has been quiet for 10 s; at most 60 s.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  uint64_t last[kPairs] = {};
  absl::Time last_change = absl::Now();
  while (absl::Now() < deadline) {
    bool changed = false, reached = true;
    for (int p = 0; p < kPairs; ++p) {
      const uint64_t now = verified_[p].load();
      changed |= now != last[p];
      reached &= now >= expected[p];
      last[p] = now;
    }
    if (changed) last_change = absl::Now();
    const absl::Duration quiet = absl::Now() - last_change;
    if ((reached && quiet >= absl::Seconds(1)) || quiet >= absl::Seconds(10)) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::lock_guard<std::mutex> lock(capture_mu_);
  captures_cancelled_.store(true);
  for (grpc::ClientContext* context : capture_contexts_) {
    if (context != nullptr) context->TryCancel();
  }
}

void SoakRun::CheckPoolsBack() {
  // Bounded poll: every current pool at its baseline in_use, nothing draining, no
  // subscriber left, nothing queued, tagged memory as at start.
  std::vector<std::string> problems;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  do {
    problems.clear();
    v1::GetStatsResponse stats;
    const grpc::Status got =
        Call(control_.get(), &v1::PktPool::Stub::GetStats, v1::GetStatsRequest{}, &stats);
    if (!got.ok()) {
      problems.push_back(absl::StrCat("GetStats: ", Describe(got)));
      break;
    }
    final_stats_ = stats;
    for (const v1::BindingStats& binding : stats.bindings()) {
      const std::string& name = binding.binding().interface();
      for (const v1::PoolStats& pool : binding.pools()) {
        if (pool.draining()) {
          problems.push_back(absl::StrCat(name, " ", pool.tag(), " generation ",
                                          pool.generation(), " still draining with ",
                                          pool.in_use(), " in use"));
        } else if (pool.in_use() != baseline_in_use_[name][pool.name()]) {
          problems.push_back(absl::StrCat(name, " ", pool.tag(), " in use ", pool.in_use(),
                                          ", baseline ", baseline_in_use_[name][pool.name()]));
        }
      }
      if (binding.subscribers_size() != 0) {
        problems.push_back(absl::StrCat(name, " still has ", binding.subscribers_size(),
                                        " capture subscribers"));
      }
      if (binding.tx_queue_depth() != 0) {
        problems.push_back(absl::StrCat(name, " tx queue depth ", binding.tx_queue_depth()));
      }
      std::map<std::string, uint64_t> memory;
      for (const v1::TagUsage& tag : binding.memory()) memory[tag.tag()] = tag.bytes_outstanding();
      for (const auto& [tag, bytes] : baseline_memory_[name]) {
        if (memory[tag] != bytes) {
          problems.push_back(absl::StrCat(name, " tagged memory ", tag, " ", memory[tag],
                                          " bytes, baseline ", bytes));
        }
      }
    }
    if (problems.empty()) break;
    absl::SleepFor(absl::Milliseconds(200));
  } while (absl::Now() < deadline);
  for (const std::string& problem : problems) Fail(2, problem + " (after 15 s of settling)");
}

void SoakRun::CheckRss() {
  std::lock_guard<std::mutex> lock(rss_mu_);
  if (Duration() < 2 * kRssFirstWindowEnd) {
    notes_.push_back(absl::StrFormat(
        "RSS growth not checked: a %.1f-minute run has no first minute to compare with the end "
        "(needs --minutes 2 or more)",
        options_.minutes));
    return;
  }
  auto mean = [&](double from, double to, int* n) {
    double sum = 0;
    *n = 0;
    for (const auto& [t, kb] : rss_) {
      if (t >= from && t <= to) {
        sum += static_cast<double>(kb);
        ++*n;
      }
    }
    return *n > 0 ? sum / *n : 0.0;
  };
  int first_n = 0, last_n = 0;
  const double first = mean(kRssFirstWindowEnd - kRssWindowSeconds, kRssFirstWindowEnd, &first_n);
  const double last = mean(Duration() - kRssWindowSeconds, Duration(), &last_n);
  const double growth = first > 0 ? (last - first) / first * 100 : 0;
  notes_.push_back(absl::StrFormat(
      "RSS: mean of %d samples in [%.0f, %.0f] s = %.0f kB; mean of %d samples in [%.0f, %.0f] s "
      "= %.0f kB; growth %+.3f%% (limit %.1f%%)%s",
      first_n, kRssFirstWindowEnd - kRssWindowSeconds, kRssFirstWindowEnd, first, last_n,
      Duration() - kRssWindowSeconds, Duration(), last, growth, kRssGrowthLimitPercent,
      options_.minutes < 10 ? "; a short window: a slow leak may stay under the limit, run "
                              "longer (--minutes 60) to see one"
                            : ""));
  if (first_n == 0 || last_n == 0) {
    Fail(3, "no RSS samples in a window");
  } else if (growth >= kRssGrowthLimitPercent) {
    Fail(3, absl::StrFormat("pktpoold RSS grew %.3f%% (%.0f kB -> %.0f kB), limit %.1f%%", growth,
                            first, last, kRssGrowthLimitPercent));
  }
}

void SoakRun::StopDaemon() {
  if (!daemon_) return;
  daemon_->Signal(SIGTERM);
  const testing::CommandResult result = daemon_->Wait(absl::Seconds(20));
  daemon_exit_code_ = result.exit_code;
  daemon_stderr_ = result.err;
  if (result.exit_code != 0) {
    Fail(0, absl::StrCat("pktpoold exited with ", result.exit_code,
                         " after SIGTERM (want 0 within 20 s)"));
  }
  std::ofstream(dir_ + "/pktpoold.stderr") << daemon_stderr_;
}

void SoakRun::CheckLog() {
  // Lines the test provokes: soak-a0 going DOWN and UP again around the bounce (warning
  // and notice priorities). Everything else at priority <= 3, mentioning "error", or in
  // gRPC's own E/F log format is unexpected.
  const std::regex provoked(absl::StrCat("^<[45]>pktpool: binding ", kSendEnd[kBouncedPair],
                                         " is (DOWN: .*|UP again)$"));
  const std::regex severe("^<[0-3]>|[Ee][Rr][Rr][Oo][Rr]|^[EF][0-9]{4} ");
  const std::regex down("is DOWN");
  std::map<std::string, int> by_priority;
  int provoked_lines = 0;
  for (absl::string_view piece : absl::StrSplit(daemon_stderr_, '\n', absl::SkipEmpty())) {
    const std::string line(piece);
    const std::string priority = line.size() > 3 && line[0] == '<' && line[2] == '>'
                                     ? line.substr(0, 3)
                                     : "other";
    ++by_priority[priority];
    if (std::regex_search(line, provoked)) {
      ++provoked_lines;
      continue;
    }
    if (std::regex_search(line, severe) || std::regex_search(line, down)) {
      Fail(4, absl::StrCat("unexpected daemon log line: ", line));
    }
  }
  std::vector<std::string> counts;
  for (const auto& [priority, n] : by_priority) counts.push_back(absl::StrCat(priority, " ", n));
  notes_.push_back(absl::StrCat("daemon stderr: ", absl::StrJoin(counts, ", "), "; ",
                                provoked_lines, " of them provoked by the link bounce"));
}

void SoakRun::PrintSummary() {
  std::printf("\n== pktpool soak: %.2f min of load, %.0f frames/s offered per pair, seed %llu ==\n",
              options_.minutes, options_.rate_per_pair, static_cast<unsigned long long>(seed_));
  if (!options_.break_mode.empty()) {
    std::printf("   (--break %s: this run must FAIL)\n", options_.break_mode.c_str());
  }
  std::map<std::string, const v1::BindingStats*> stats;
  for (const v1::BindingStats& b : final_stats_.bindings()) stats[b.binding().interface()] = &b;
  for (int p = 0; p < kPairs && p < static_cast<int>(reports_.size()); ++p) {
    const PairReport& r = reports_[p];
    const CaptureTally& t = tallies_[p];
    std::printf("pair %d %s -> %s:\n", p, kSendEnd[p], kPeerEnd[p]);
    std::printf("  reported SENT %llu, reported failed %llu, ambiguous %llu\n",
                static_cast<unsigned long long>(r.reported_sent),
                static_cast<unsigned long long>(r.reported_failed),
                static_cast<unsigned long long>(r.maybe));
    std::printf("  captured %llu frames (%llu distinct soak frames): missing %llu, duplicates %llu, "
                "failed-but-captured %llu, ambiguous-captured %llu, never-sent %llu\n",
                static_cast<unsigned long long>(t.frames),
                static_cast<unsigned long long>(r.captured),
                static_cast<unsigned long long>(r.missing),
                static_cast<unsigned long long>(r.duplicates),
                static_cast<unsigned long long>(r.failed_but_captured),
                static_cast<unsigned long long>(r.maybe_captured),
                static_cast<unsigned long long>(r.never_sent));
    std::printf("  corrupt %llu, misrouted %llu, foreign %llu, bad wire_length %llu, "
                "content hash %s, capture stream dropped %llu\n",
                static_cast<unsigned long long>(t.corrupt),
                static_cast<unsigned long long>(t.misrouted),
                static_cast<unsigned long long>(t.foreign),
                static_cast<unsigned long long>(t.bad_length),
                r.hash_matches ? "matches" : "DIFFERS",
                static_cast<unsigned long long>(t.last_dropped));
    for (const char* end : {kSendEnd[p], kPeerEnd[p]}) {
      auto it = stats.find(end);
      if (it == stats.end()) continue;
      const v1::BindingStats& b = *it->second;
      std::vector<std::string> failures;
      for (const auto& [reason, n] : b.tx_failures()) {
        if (n != 0) failures.push_back(absl::StrCat(reason, " ", n));
      }
      std::printf("  %s: rx %llu, tx %llu, tx failures {%s}, rx_resource_drops %llu, "
                  "pcap received %llu dropped %llu if_dropped %llu, down_events %llu\n",
                  end, static_cast<unsigned long long>(b.rx_frames()),
                  static_cast<unsigned long long>(b.tx_frames()),
                  absl::StrJoin(failures, ", ").c_str(),
                  static_cast<unsigned long long>(b.rx_resource_drops()),
                  static_cast<unsigned long long>(b.pcap_received()),
                  static_cast<unsigned long long>(b.pcap_dropped()),
                  static_cast<unsigned long long>(b.pcap_if_dropped()),
                  static_cast<unsigned long long>(b.down_events()));
    }
    if (!r.first_missing.empty()) {
      std::vector<std::string> ids;
      for (const FrameId& id : r.first_missing) ids.push_back(absl::StrCat(id.sender, ":", id.sequence));
      std::printf("  first missing (sender:sequence): %s\n", absl::StrJoin(ids, " ").c_str());
    }
    for (const std::string& example : t.examples) std::printf("  %s\n", example.c_str());
  }
  std::printf("senders:\n");
  for (const auto& l : ledgers_) {
    std::vector<std::string> failures;
    for (const auto& [reason, n] : l->failures) failures.push_back(absl::StrCat(reason, " ", n));
    std::printf("  %2d %-6s pair %d: %llu calls, SENT %llu, failed %llu, ambiguous %llu {%s}\n",
                l->id, l->kind.c_str(), l->pair, static_cast<unsigned long long>(l->calls),
                static_cast<unsigned long long>(l->sent), static_cast<unsigned long long>(l->failed),
                static_cast<unsigned long long>(l->maybe), absl::StrJoin(failures, ", ").c_str());
  }
  std::vector<std::string> by_pool;
  for (const auto& [pool, n] : tunes_by_pool_) by_pool.push_back(absl::StrCat(pool, " ", n));
  std::printf("tunes: %llu (overflow clamped %llu, restores to baseline %llu) {%s}\n",
              static_cast<unsigned long long>(tunes_), static_cast<unsigned long long>(tunes_clamped_),
              static_cast<unsigned long long>(restores_), absl::StrJoin(by_pool, ", ").c_str());
  std::printf("chaos captures: %llu opened (%llu stalled), %llu cancelled, %llu ended by count, "
              "%llu frames read, largest dropped count %llu\n",
              static_cast<unsigned long long>(chaos_opened_),
              static_cast<unsigned long long>(chaos_stalled_),
              static_cast<unsigned long long>(chaos_cancelled_),
              static_cast<unsigned long long>(chaos_by_count_),
              static_cast<unsigned long long>(chaos_frames_),
              static_cast<unsigned long long>(chaos_dropped_));
  std::printf("link bounce: %s down at %.1f s, up at %.1f s, binding UP again at %.1f s\n",
              kSendEnd[kBouncedPair], down_at_.load(), up_at_.load(), up_seen_at_.load());
  for (int p = 0; p < kPairs; ++p) {
    std::printf("long-lived capture %s: ended %s\n", kPeerEnd[p], capture_end_[p].c_str());
  }
  {
    std::lock_guard<std::mutex> lock(rss_mu_);
    // At most about 200 shown; events.log has them all.
    const size_t step = std::max<size_t>(1, (rss_.size() + 199) / 200);
    std::printf("RSS samples (s:kB, every %zu s):", step);
    for (size_t i = 0, shown = 0; i < rss_.size(); i += step, ++shown) {
      std::printf("%s %.0f:%llu", shown % 10 == 0 ? "\n " : "", rss_[i].first,
                  static_cast<unsigned long long>(rss_[i].second));
    }
    std::printf("\n");
  }
  for (const auto& [name, span] : losses_) {
    if (span.total == 0) continue;
    std::printf("%s lost %llu frames (pcap_dropped + rx_resource_drops) between %.2f s and "
                "%.2f s of the load (250 ms samples; events.log has what else happened)\n",
                name.c_str(), static_cast<unsigned long long>(span.total), span.first, span.last);
  }
  for (const std::string& note : notes_) std::printf("%s\n", note.c_str());
  static const char* const kNames[] = {
      "0 setup and daemon", "1 every frame reported sent was captured",
      "2 pools back to baseline, nothing draining", "3 RSS growth under 1%",
      "4 no unexpected errors in the daemon's log"};
  std::lock_guard<std::mutex> lock(failures_mu_);
  for (int i = 0; i < 5; ++i) {
    const auto it = failures_.find(i);
    const bool failed = it != failures_.end() && !it->second.empty();
    std::printf("invariant %s: %s\n", kNames[i], failed ? "FAIL" : "pass");
    if (!failed) continue;
    for (size_t j = 0; j < it->second.size() && j < 20; ++j) {
      std::printf("    %s\n", it->second[j].c_str());
    }
    if (it->second.size() > 20) std::printf("    (%zu more)\n", it->second.size() - 20);
  }
}

int SoakRun::Main() {
  if (!testing::HaveNetAdmin()) {
    if (std::getenv("CI") != nullptr || std::getenv("PKTPOOL_REQUIRE_NET_ADMIN") != nullptr) {
      std::printf("FAIL: CI is set but this process lacks root/CAP_NET_ADMIN for the soak test\n");
      return 1;
    }
    std::printf("SKIP: the soak test needs root or CAP_NET_ADMIN to create a network namespace "
                "and veth pairs (run as root, or set CI to make this a failure)\n");
    return kSkipExitCode;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const bool ready = Setup();
  if (ready) {
    // Senders: per pair, one unary unpaced, one unary paced by the daemon, one stream.
    const double rate = options_.rate_per_pair;
    const struct {
      const char* kind;
      double share;
    } kinds[] = {{"unary", 0.4}, {"paced", 0.3}, {"stream", 0.3}};
    for (int p = 0; p < kPairs; ++p) {
      for (const auto& k : kinds) {
        auto ledger = std::make_unique<SenderLedger>();
        ledger->id = static_cast<uint16_t>(ledgers_.size());
        ledger->pair = p;
        ledger->kind = k.kind;
        sender_pair_.push_back(p);
        ledgers_.push_back(std::move(ledger));
      }
    }
    std::vector<std::thread> captures;
    for (int p = 0; p < kPairs; ++p) captures.emplace_back([this, p] { LongLivedCapture(p); });
    const absl::Time ready_deadline = absl::Now() + absl::Seconds(10);
    while (!(capture_ready_[0].load() && capture_ready_[1].load()) && absl::Now() < ready_deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (!(capture_ready_[0].load() && capture_ready_[1].load())) {
      Fail(0, "the long-lived capture streams did not start within 10 s");
    }
    std::printf("soak: %s, pktpoold pid %d, socket %s; load for %.2f min\n", ns_->name().c_str(),
                daemon_->pid(), socket_.c_str(), options_.minutes);
    load_start_ = absl::Now();
    std::vector<std::thread> workers;
    workers.emplace_back([this] { Sampler(); });
    workers.emplace_back([this] { StatsWatcher(); });
    for (size_t i = 0; i < ledgers_.size(); ++i) {
      SenderLedger* ledger = ledgers_[i].get();
      const double share = rate * kinds[i % 3].share;
      const uint64_t seed = seed_ + 100 + i;
      if (ledger->kind == "stream") {
        workers.emplace_back([=, this] { StreamSender(ledger, share, seed); });
      } else {
        const bool paced = ledger->kind == "paced";
        workers.emplace_back([=, this] { UnarySender(ledger, paced, share, seed); });
      }
    }
    if (options_.tune) workers.emplace_back([this] { Tuner(seed_ + 1); });
    if (options_.chaos) workers.emplace_back([this] { ChaosCaptures(seed_ + 2); });
    if (options_.bounce) workers.emplace_back([this] { Bouncer(); });
    // The load runs for the duration (or until the daemon dies: the sampler stops it).
    int last_report = 0;
    while (!stop_.load() && Elapsed() < Duration()) {
      absl::SleepFor(absl::Milliseconds(100));
      const int minute = static_cast<int>(Elapsed() / 60);
      if (minute > last_report) {
        last_report = minute;
        std::printf("soak: %d min done, captured %llu + %llu\n", minute,
                    static_cast<unsigned long long>(verified_[0].load()),
                    static_cast<unsigned long long>(verified_[1].load()));
      }
    }
    stop_.store(true);
    for (std::thread& worker : workers) worker.join();
    SettleCaptures();
    for (std::thread& capture : captures) capture.join();
    for (int p = 0; p < kPairs; ++p) {
      std::vector<const SenderLedger*> senders;
      for (const auto& l : ledgers_) {
        if (l->pair == p) senders.push_back(l.get());
      }
      reports_.push_back(Reconcile(senders, tallies_[p]));
      const PairReport& r = reports_.back();
      if (!r.ok(tallies_[p])) {
        Fail(1, absl::StrFormat(
                    "pair %d (%s -> %s): %d reported sent, %d missing, %d duplicated, %d failed "
                    "but captured, %d never sent, %d corrupt, %d misrouted, %d bad wire_length, "
                    "capture dropped %d, hash %s",
                    p, kSendEnd[p], kPeerEnd[p], r.reported_sent, r.missing, r.duplicates,
                    r.failed_but_captured, r.never_sent, tallies_[p].corrupt,
                    tallies_[p].misrouted, tallies_[p].bad_length, tallies_[p].last_dropped,
                    r.hash_matches ? "matches" : "differs"));
      }
      for (const auto* l : senders) {
        for (const std::string& what : l->unexpected) {
          Fail(1, absl::StrCat("sender ", l->id, " (", l->kind, ", ", kSendEnd[p],
                               "): unexpected failure ", what));
        }
      }
    }
    CheckPoolsBack();
    // Losses the kernel or libpcap account for, reported apart from the test's own count.
    for (const v1::BindingStats& b : final_stats_.bindings()) {
      if (b.pcap_dropped() != 0 || b.pcap_if_dropped() != 0 || b.rx_resource_drops() != 0) {
        Fail(1, absl::StrCat(b.binding().interface(), ": the kernel ring dropped ",
                             b.pcap_dropped(), " (pcap_dropped), the interface ",
                             b.pcap_if_dropped(), ", the receive pools ",
                             b.rx_resource_drops(), " (rx_resource_drops)"));
      }
    }
    CheckRss();
  }
  StopDaemon();
  if (!daemon_stderr_.empty() || ready) CheckLog();
  PrintSummary();
  bool failed = false;
  {
    std::lock_guard<std::mutex> lock(failures_mu_);
    for (const auto& [invariant, list] : failures_) failed |= !list.empty();
  }
  if (failed) {
    std::printf("RESULT: FAIL (daemon log and config kept in %s)\n", dir_.c_str());
  } else if (options_.keep) {
    std::printf("RESULT: PASS (daemon log and events kept in %s)\n", dir_.c_str());
  } else {
    std::printf("RESULT: PASS\n");
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace pktpool::soak

int main(int argc, char** argv) {
  std::optional<pktpool::soak::Options> options = pktpool::soak::ParseOptions(argc, argv);
  if (!options) {
    pktpool::soak::Usage();
    return 2;
  }
  pktpool::soak::SoakRun run(std::move(*options));
  return run.Main();
}
