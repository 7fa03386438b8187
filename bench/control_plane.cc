// Control-plane latency under load: GetStats next to a trivial unary RPC (GetVersion)
// on the same pktpoold, while another client floods SendFrames. Run inside a network
// namespace with a veth pair (bench/control_plane.sh does that); it starts pktpoold
// itself and stops it (by PID) at the end.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "pktpool/v1/pktpool.grpc.pb.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

std::string Frame(uint32_t sequence) {
  std::string frame(512, '\0');
  const char header[14] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01,
                           static_cast<char>(0x88), static_cast<char>(0xB5)};
  std::copy(header, header + 14, frame.begin());
  std::memcpy(frame.data() + 14, &sequence, sizeof(sequence));
  return frame;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: control_plane PKTPOOLD IF_A IF_B CALLS\n");
    return 2;
  }
  const std::string daemon = argv[1], a = argv[2], b = argv[3];
  const int calls = std::max(100, std::atoi(argv[4]));
  const std::string socket = "/tmp/pktpool-control-plane-" + std::to_string(getpid()) + ".sock";
  std::vector<std::string> args = {daemon, "--socket", socket, "--bind", a, "--bind", b};
  std::vector<char*> argv_daemon;
  for (auto& arg : args) argv_daemon.push_back(arg.data());
  argv_daemon.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, daemon.c_str(), nullptr, nullptr, argv_daemon.data(), environ) != 0) {
    std::fprintf(stderr, "control_plane: cannot start %s\n", daemon.c_str());
    return 1;
  }
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  bool connected = false;
  for (int i = 0; i < 50 && !connected; ++i) {
    connected = channel->WaitForConnected(std::chrono::system_clock::now() +
                                          std::chrono::milliseconds(200));
  }
  auto stub = pktpool::v1::PktPool::NewStub(channel);
  int status_code = 0;
  if (!connected) {
    std::fprintf(stderr, "control_plane: pktpoold did not start\n");
    status_code = 1;
  } else {
    // The flood: a second channel, batches of 256 frames of 512 bytes, back to back.
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> flooded{0};
    std::thread flood([&] {
      auto flood_stub = pktpool::v1::PktPool::NewStub(
          grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
      pktpool::v1::SendFramesRequest request;
      request.set_interface(a);
      for (uint32_t i = 0; i < 256; ++i) request.add_frames(Frame(i));
      const auto end = Clock::now() + std::chrono::seconds(60);
      while (!stop.load() && Clock::now() < end) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        pktpool::v1::SendFramesResponse response;
        if (!flood_stub->SendFrames(&context, request, &response).ok()) break;
        flooded.fetch_add(response.frames_sent());
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::vector<double> stats_us, version_us;
    const auto start = Clock::now();
    for (int i = 0; i < calls; ++i) {
      {  // interleaved, so both see the same load
        grpc::ClientContext context;
        pktpool::v1::GetStatsResponse response;
        const auto t0 = Clock::now();
        const grpc::Status s = stub->GetStats(&context, pktpool::v1::GetStatsRequest{}, &response);
        stats_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!s.ok()) status_code = 1;
      }
      {
        grpc::ClientContext context;
        pktpool::v1::GetVersionResponse response;
        const auto t0 = Clock::now();
        const grpc::Status s =
            stub->GetVersion(&context, pktpool::v1::GetVersionRequest{}, &response);
        version_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!s.ok()) status_code = 1;
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    stop.store(true);
    flood.join();
    const double flood_fps = static_cast<double>(flooded.load()) / (seconds + 0.3);
    const double stats_p50 = Percentile(stats_us, 0.50), stats_p99 = Percentile(stats_us, 0.99);
    const double version_p50 = Percentile(version_us, 0.50),
                 version_p99 = Percentile(version_us, 0.99);
    std::printf("calls: %d of each, interleaved, while SendFrames floods %s at %.0f frames/s\n",
                calls, a.c_str(), flood_fps);
    std::printf("%-28s %10s %10s\n", "rpc", "p50 (us)", "p99 (us)");
    std::printf("%-28s %10.1f %10.1f\n", "GetStats (2 bindings)", stats_p50, stats_p99);
    std::printf("%-28s %10.1f %10.1f\n", "GetVersion (trivial)", version_p50, version_p99);
    const double ratio = stats_p99 / version_p99;
    std::printf("GetStats p99 / GetVersion p99: %.2fx (target <= 2.0x): %s\n", ratio,
                ratio <= 2.0 ? "PASS" : "MISS");
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return status_code;
}
