// load: pktpoold under everything at once. 64 clients calling GetStats in a loop, 4 capture
// streams and a top-speed StreamSendFrames, together for SECONDS, against the send alone
// and GetStats alone on the same daemon in the same run. Run inside a network namespace
// with a veth pair (bench/load.sh does that); it starts pktpoold itself and ends it (by
// PID) at the end.
//
//   load PKTPOOLD IF_A IF_B SECONDS
//
// Frames go out on IF_A only (64 bytes, 02:..:01 -> 02:..:02, ethertype 0x88B5), 1024
// per message; the captures are on IF_B. Prints the three phases, then one line
// "result send_ratio=... stats_p99_ratio=... capture_lost=..." for scripts.
// Targets (issue 16): the send rate together >= 0.9x alone; GetStats p99 together <= 2x
// alone; every frame a capture did not get counted in its final CaptureLoss.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pktpool/v1/pktpool.grpc.pb.h"

extern char** environ;

namespace {

namespace v1 = pktpool::v1;
using Clock = std::chrono::steady_clock;

constexpr int kStatsClients = 64;
constexpr int kCaptures = 4;
constexpr int kFramesPerMessage = 1024;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

std::shared_ptr<grpc::Channel> OwnChannel(const std::string& socket) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per client
  arguments.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(),
                                   arguments);
}

// Top-speed StreamSendFrames of 64-byte frames until `seconds` pass: frames/s sent.
double SendTopSpeed(const std::string& socket, const std::string& interface, double seconds,
                    std::string* error) {
  auto stub = v1::PktPool::NewStub(OwnChannel(socket));
  v1::SendFramesRequest request;
  request.set_interface(interface);
  std::string frame(64, '\0');
  const unsigned char header[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xB5};
  std::memcpy(frame.data(), header, sizeof(header));
  for (int i = 0; i < kFramesPerMessage; ++i) request.add_frames(frame);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(static_cast<int>(seconds) + 60));
  v1::SendFramesResponse response;
  auto writer = stub->StreamSendFrames(&context, &response);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (!writer->Write(request)) break;
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (!status.ok()) *error = status.error_message();
  return static_cast<double>(response.frames_sent()) / elapsed;
}

// `clients` threads, each on a connection of its own, calling GetStats until `stop`:
// every call's latency in microseconds; `failures` counts calls that did not succeed.
std::vector<double> StatsLoop(const std::string& socket, int clients,
                              const std::atomic<bool>& stop, std::atomic<uint64_t>* failures) {
  std::mutex mu;
  std::vector<double> all;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto stub = v1::PktPool::NewStub(OwnChannel(socket));
      std::vector<double> mine;
      while (!stop.load()) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::GetStatsResponse response;
        const auto t0 = Clock::now();
        const grpc::Status status = stub->GetStats(&context, v1::GetStatsRequest{}, &response);
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!status.ok()) failures->fetch_add(1);
      }
      std::lock_guard<std::mutex> lock(mu);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  return all;
}

// One capture stream (pcap records) read until cancelled: frames, and its last loss counts.
struct CaptureTally {
  uint64_t frames = 0;
  v1::CaptureLoss loss;
  std::string error;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: load PKTPOOLD IF_A IF_B SECONDS\n");
    return 2;
  }
  const std::string daemon = argv[1], a = argv[2], b = argv[3];
  const double seconds = std::clamp(std::atof(argv[4]), 2.0, 600.0);
  const std::string socket = "/tmp/pktpool-load-" + std::to_string(getpid()) + ".sock";
  std::vector<std::string> args = {daemon, "--socket", socket, "--bind", a, "--bind", b};
  std::vector<char*> daemon_argv;
  for (auto& arg : args) daemon_argv.push_back(arg.data());
  daemon_argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, daemon.c_str(), nullptr, nullptr, daemon_argv.data(), environ) != 0) {
    std::fprintf(stderr, "load: cannot start %s\n", daemon.c_str());
    return 1;
  }
  auto channel = OwnChannel(socket);
  bool connected = false;
  for (int i = 0; i < 50 && !connected; ++i) {
    connected = channel->WaitForConnected(std::chrono::system_clock::now() +
                                          std::chrono::milliseconds(200));
  }
  int exit_code = 0;
  if (!connected) {
    std::fprintf(stderr, "load: pktpoold did not start\n");
    exit_code = 1;
  } else {
    std::string error;
    // 1. The send alone.
    const double send_alone = SendTopSpeed(socket, a, seconds, &error);
    // 2. GetStats alone.
    std::atomic<uint64_t> stats_failures{0};
    std::atomic<bool> stop{false};
    std::thread timer([&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      stop.store(true);
    });
    const std::vector<double> stats_alone =
        StatsLoop(socket, kStatsClients, stop, &stats_failures);
    timer.join();
    // 3. Everything together: captures first (subscribed), then the GetStats clients and
    // the send for `seconds`.
    std::vector<CaptureTally> tallies(kCaptures);
    std::vector<std::unique_ptr<grpc::ClientContext>> capture_contexts;
    std::vector<std::thread> captures;
    auto capture_stub = v1::PktPool::NewStub(OwnChannel(socket));
    for (int c = 0; c < kCaptures; ++c) {
      capture_contexts.push_back(std::make_unique<grpc::ClientContext>());
      captures.emplace_back([&, c, context = capture_contexts.back().get()] {
        v1::CaptureRequest request;
        request.set_interface(b);
        request.set_format(v1::CAPTURE_FORMAT_PCAP_RECORDS);
        auto reader = capture_stub->Capture(context, request);
        v1::CaptureResponse message;
        while (reader->Read(&message)) {
          tallies[c].frames += message.record_count();
          tallies[c].loss = message.loss();
        }
        const grpc::Status status = reader->Finish();
        if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
          tallies[c].error = status.error_message();
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // subscribed
    std::atomic<bool> stop_together{false};
    std::atomic<uint64_t> together_failures{0};
    std::vector<double> stats_together;
    std::thread stats_thread([&] {
      stats_together = StatsLoop(socket, kStatsClients, stop_together, &together_failures);
    });
    std::string together_error;
    const double send_together = SendTopSpeed(socket, a, seconds, &together_error);
    stop_together.store(true);
    stats_thread.join();
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the captures drain
    for (auto& context : capture_contexts) context->TryCancel();
    for (auto& t : captures) t.join();

    const double alone_p99 = Percentile(stats_alone, 0.99);
    const double together_p99 = Percentile(stats_together, 0.99);
    const double send_ratio = send_alone > 0 ? send_together / send_alone : 0;
    const double p99_ratio = alone_p99 > 0 ? together_p99 / alone_p99 : 0;
    std::printf("%.0f s per phase; %d GetStats clients (a connection each), %d capture streams "
                "on %s, top-speed StreamSendFrames of 64-byte frames on %s\n",
                seconds, kStatsClients, kCaptures, b.c_str(), a.c_str());
    std::printf("%-34s %14s %14s %14s\n", "phase", "send frames/s", "GetStats p50", "GetStats p99");
    std::printf("%-34s %14.0f %14s %14s\n", "send alone", send_alone, "-", "-");
    std::printf("%-34s %14s %12.0fus %12.0fus\n", "GetStats alone", "-",
                Percentile(stats_alone, 0.5), alone_p99);
    std::printf("%-34s %14.0f %12.0fus %12.0fus\n", "together (+ 4 captures)", send_together,
                Percentile(stats_together, 0.5), together_p99);
    std::printf("GetStats calls: %zu alone, %zu together; failed: %lu alone, %lu together\n",
                stats_alone.size(), stats_together.size(),
                static_cast<unsigned long>(stats_failures.load()),
                static_cast<unsigned long>(together_failures.load()));
    uint64_t unaccounted = 0;
    for (int c = 0; c < kCaptures; ++c) {
      const v1::CaptureLoss& l = tallies[c].loss;
      const uint64_t lost = l.pool_empty() + l.queue_full() + l.stalled() + l.kernel();
      // A stream without a filter: captured + every drop == received once its queue is empty.
      const uint64_t accounted = l.captured() + l.filtered() + lost;
      const uint64_t missing = l.received() > accounted ? l.received() - accounted : 0;
      unaccounted += missing;
      std::printf("capture %d: %lu frames read, received %lu, lost %lu (pool %lu, queue %lu, "
                  "stalled %lu, kernel %lu), unaccounted %lu%s%s\n",
                  c, static_cast<unsigned long>(tallies[c].frames),
                  static_cast<unsigned long>(l.received()), static_cast<unsigned long>(lost),
                  static_cast<unsigned long>(l.pool_empty()),
                  static_cast<unsigned long>(l.queue_full()),
                  static_cast<unsigned long>(l.stalled()), static_cast<unsigned long>(l.kernel()),
                  static_cast<unsigned long>(missing), tallies[c].error.empty() ? "" : "; ",
                  tallies[c].error.c_str());
    }
    std::printf("send together / alone: %.2fx (target >= 0.90): %s\n", send_ratio,
                send_ratio >= 0.9 ? "PASS" : "MISS");
    std::printf("GetStats p99 together / alone: %.2fx (target <= 2.00): %s\n", p99_ratio,
                p99_ratio <= 2.0 ? "PASS" : "MISS");
    std::printf("result send_alone=%.0f send_together=%.0f send_ratio=%.3f stats_p99_alone_us=%.0f "
                "stats_p99_together_us=%.0f stats_p99_ratio=%.3f capture_unaccounted=%lu\n",
                send_alone, send_together, send_ratio, alone_p99, together_p99, p99_ratio,
                static_cast<unsigned long>(unaccounted));
    if (!error.empty() || !together_error.empty()) {
      std::fprintf(stderr, "load: a send failed: %s %s\n", error.c_str(), together_error.c_str());
      exit_code = 1;
    }
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  unlink(socket.c_str());
  unlink((socket + ".lock").c_str());
  return exit_code;
}
