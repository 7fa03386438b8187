// --capture: one binding's Capture stream into Wireshark's FIFO as pcapng, closed with an
// interface statistics block holding what the stream lost, by reason.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stop_token>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/extcap/commands.h"
#include "client/extcap/extcap_protocol.h"
#include "absl/time/clock.h"
#include "client/capture_file/capture_file.h"
#include "client/pktpoolctl/capture_session.h"
#include "client/pktpoolctl/interrupt.h"

namespace pktpool::extcap {
namespace {

// Wireshark opens the FIFO's read end right after starting us; a reader that never comes
// (a wrong --fifo by hand) ends the wait.
constexpr auto kFifoReaderWait = std::chrono::seconds(30);
constexpr uint32_t kFallbackSnaplen = 262144;  // the pcap header's when the binding says 0

int Fail(const std::string& message) {
  std::fprintf(stderr, "pktpool-extcap: %s\n", message.c_str());
  return kExitFailed;
}

// Opens `path` for writing, waiting (every 20 ms) for a FIFO's reader. Plain files are
// created, for use by hand. The descriptor is blocking once open.
absl::StatusOr<int> OpenFifo(const std::string& path, const ctl::InterruptWatcher& interrupt) {
  const auto give_up = std::chrono::steady_clock::now() + kFifoReaderWait;
  while (!interrupt.interrupted()) {
    const int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return fd;
    }
    if (errno != ENXIO) {  // ENXIO: a FIFO nobody reads yet
      return absl::InvalidArgumentError(
          absl::StrCat("cannot open --fifo ", path, ": ", strerror(errno)));
    }
    if (std::chrono::steady_clock::now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("nobody opened the FIFO ", path, " for reading within 30 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::CancelledError("interrupted");
}

// The checks that would otherwise fail after the pcap header went out (too late for
// Wireshark to call the capture failed): the daemon answers, has the binding, and the
// filter compiles. Returns the pcap header's snaplen.
absl::StatusOr<uint32_t> CheckCapture(ctl::PktPoolClient& client, const CaptureOptions& options,
                                      const Endpoint& endpoint) {
  v1::ListBindingsResponse listed;
  if (grpc::Status status = client.Bindings(&listed); !status.ok()) {
    return absl::UnavailableError(StatusLine(status, endpoint));
  }
  const v1::BindingInfo* found = nullptr;
  std::vector<std::string> names;
  for (const auto& binding : listed.bindings()) {
    names.push_back(binding.interface());
    if (binding.interface() == options.binding) found = &binding;
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "NOT_FOUND: pktpoold at ", Describe(endpoint), " has no binding '", options.binding,
        "' (bound: ", names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  }
  if (std::string error = FilterError(options.filter); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("INVALID_ARGUMENT: capture filter '",
                                                   options.filter, "' is not valid: ", error));
  }
  if (options.snaplen != 0) return options.snaplen;
  const uint32_t snaplen = found->options().snaplen();
  return snaplen != 0 ? snaplen : kFallbackSnaplen;
}

// Cancels the session when the FIFO's reader goes away (POLLERR on the write end), so a
// capture without traffic ends too. Stops (within 100 ms) when destroyed.
class ReaderWatch {
 public:
  ReaderWatch(int fd, ctl::CaptureSession* session)
      : thread_([this, fd, session](std::stop_token stop) {
          pollfd watched{fd, 0, 0};
          while (!stop.stop_requested()) {
            if (poll(&watched, 1, 100) > 0 && (watched.revents & (POLLERR | POLLHUP)) != 0) {
              gone_.store(true);
              session->Cancel();
              return;
            }
          }
        }) {}
  bool gone() const { return gone_.load(); }

 private:
  std::atomic<bool> gone_{false};
  std::jthread thread_;  // last: stopped and joined first
};

}  // namespace

int RunCapture(const Endpoint& endpoint, const CaptureOptions& options, const std::string& fifo) {
  ctl::InterruptWatcher interrupt;  // first: gRPC's threads inherit its signal mask
  absl::StatusOr<int> fd = OpenFifo(fifo, interrupt);
  if (!fd.ok()) return interrupt.interrupted() ? kExitOk : Fail(std::string(fd.status().message()));
  auto client = ctl::PktPoolClient::Connect(endpoint);
  absl::StatusOr<uint32_t> snaplen =
      client.ok() ? CheckCapture(**client, options, endpoint) : client.status();
  if (!snaplen.ok()) {
    // The line first, then no header: when the FIFO closes, Wireshark finds the capture
    // failed and shows our stderr.
    const int code =
        interrupt.interrupted() ? kExitOk : Fail(std::string(snaplen.status().message()));
    close(*fd);
    return code;
  }
  v1::CaptureRequest request;
  request.set_interface(options.binding);
  request.set_filter(options.filter);
  request.set_snaplen(options.snaplen);
  request.set_queue_frames(options.queue_frames);
  ctl::CaptureSession session(client->get(), request);
  // SIGTERM from Wireshark ends it like Ctrl-C ends pktpoolctl: the daemon sends what it
  // queued and the final counts, which go into the file's interface statistics.
  interrupt.OnInterrupt([&session] { session.Stop(); });
  std::unique_ptr<capture_file::Writer> out;
  std::unique_ptr<ReaderWatch> watch;
  absl::Status written;
  uint64_t frames = 0;
  const int64_t start_ns = absl::GetCurrentTimeNanos();
  const grpc::Status status = session.Run(
      [&] {  // subscribed: nothing arriving from now on is missed
        absl::StatusOr<std::unique_ptr<capture_file::Writer>> created =
            capture_file::Writer::FromFd(
                *fd, fifo, capture_file::Format::kPcapng,
                {.name = options.binding,
                 .description = absl::StrCat(options.binding, " through pktpoold at ",
                                             Describe(endpoint)),
                 .filter = options.filter,
                 .snaplen = *snaplen,
                 .os = "",
                 .application = "pktpool-extcap"});
        if (!created.ok()) {
          written = created.status();
          close(*fd);
          session.Cancel();
          return;
        }
        out = std::move(*created);
        written = out->Flush();  // the section and interface blocks: Wireshark starts now
        watch = std::make_unique<ReaderWatch>(*fd, &session);
      },
      [&](std::string_view records, uint32_t) {
        if (!out) return false;
        absl::StatusOr<size_t> count = out->WriteRecords(records);
        written = count.ok() ? out->Flush() : count.status();  // Wireshark shows them now
        if (count.ok()) frames += *count;
        return written.ok();
      });
  interrupt.OnInterrupt(nullptr);  // a Stop still running ends before `session` goes
  const bool reader_gone = (watch && watch->gone()) || absl::IsUnavailable(written);
  watch.reset();
  if (out) {
    const v1::CaptureLoss& loss = session.loss();
    absl::Status closed = out->Close(
        {.start_ns = start_ns,
         .end_ns = absl::GetCurrentTimeNanos(),
         .received = loss.received() + loss.interface(),
         .interface_dropped = loss.interface(),
         .os_dropped = loss.kernel() + loss.pool_empty() + loss.queue_full() + loss.stalled(),
         .delivered = frames,
         .comment = absl::StrCat("pktpoold: ", loss.pool_empty(), " receive pool empty, ",
                                 loss.queue_full(), " queue full, ", loss.stalled(),
                                 " stalled, ", loss.kernel(), " dropped by the kernel")});
    if (written.ok() && !reader_gone) written = closed;
  }
  if (interrupt.interrupted() || reader_gone || status.ok()) return kExitOk;
  if (!written.ok()) return Fail(std::string(written.message()));
  return Fail(
      absl::StrCat("capture on ", options.binding, " ended: ", StatusLine(status, endpoint)));
}

}  // namespace pktpool::extcap
