// veth_throughput: send and receive rates of a capture Binding on a veth pair, and the
// peers it is measured against. bench/veth_throughput.sh creates a network namespace with
// a veth pair and runs every mode inside it (`ip netns exec NS veth_throughput ...`);
// nothing here creates interfaces or chooses one: each mode works on the interface named
// on its command line.
//
// Every frame is a raw Ethernet frame dst 02:00:00:00:00:02, src 02:00:00:00:00:01
// (locally administered), ethertype 0x88B5 (IEEE local experimental), then a big-endian
// 64-bit sequence number and a fixed fill pattern up to --size bytes.
//
//   veth_throughput send IFACE --frames N --size S [--batch B] [--threads T] [--micro]
//                        [--max-seconds T]
//       Binding::Open + Binding::Send in batches of B (default 256), from T threads
//       (default 1) that each send every T-th batch. --micro: the binding's timestamps in
//       microseconds, so libpcap does not turn on the host's timestamping of every frame.
//   veth_throughput inject IFACE --frames N --size S [--max-seconds T]
//       The bare reference: pcap_open_live + one pcap_inject per frame.
//   veth_throughput sendmmsg IFACE --frames N --size S [--batch B] [--max-seconds T]
//   veth_throughput sendmmsg IFACE --pcap FILE [--loop L] [--batch B] [--max-seconds T]
//       The bare batched reference: an AF_PACKET/SOCK_RAW socket bound to IFACE,
//       PACKET_QDISC_BYPASS, sendmmsg of B frames (default 64); generated frames, or every
//       frame of FILE read into memory first and sent L times (default 1).
//   veth_throughput blast IFACE --frames N --size S [--batch B] [--qdisc-bypass]
//                         [--first-sequence Q] [--max-seconds T]
//       The burst sender of the receive benchmarks: the same loop, sequence numbers from
//       Q (default 0), the qdisc bypass only when asked.
//   veth_throughput watch IFACE --frames N [--timeout T] [--max-seconds T]
//       Polls IFACE's tx_packets counter; prints "ready", then the rate from the first
//       sample that saw it move to the first that saw N more frames (or T seconds idle).
//   veth_throughput receive IFACE --frames N [--timeout T] [--max-seconds T] [--filter F]
//                           [--rx-packets P] [--hold]
//       Binding with a 64 MiB ring, P receive packets (default 8192; 2P buffers, P/2
//       preallocated) and one subscriber with a 65536-frame queue whose thread pops
//       batches and releases them; prints "ready" once bound, then counts our frames
//       until N are seen or T seconds (default 3) pass without a new one.
//   veth_throughput write-pcap FILE --frames N --size S
//       The same frames in a pcap file (for tcpreplay).
//   veth_throughput write-trafgen FILE --frames N --size S
//       The same frames as a trafgen(8) packet configuration, one packet per frame.
//
// Each mode ends with one line "result mode=... key=value ..." on stdout for scripts.
// Every loop is bounded by its frame count and by --max-seconds (default 60).

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/capture/binding.h"
#include "daemon/capture/binding_options.h"
#include "daemon/capture/capture_subscriber.h"
#include "daemon/capture/rx_frame.h"
#include "daemon/pool/packet.h"

namespace {

using pktpool::capture::Binding;
using pktpool::capture::BindingOptions;
using pktpool::capture::BindingStats;
using pktpool::capture::CaptureSubscriber;
using pktpool::capture::FrameResult;
using pktpool::capture::RxFrame;
using pktpool::capture::SendError;
using pktpool::capture::SendOptions;
using Clock = std::chrono::steady_clock;

constexpr uint8_t kDst[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
constexpr uint8_t kSrc[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr uint16_t kEthertype = 0x88B5;
constexpr size_t kHeaderBytes = 14;
constexpr size_t kMinFrame = kHeaderBytes + 8;  // header + sequence number
constexpr size_t kMaxFrame = 9216;              // a jumbo frame; the veth MTU decides

void Usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  veth_throughput send IFACE --frames N --size S [--batch B] [--threads T] [--micro]"
               " [--max-seconds T]\n"
               "  veth_throughput inject IFACE --frames N --size S [--max-seconds T]\n"
               "  veth_throughput sendmmsg IFACE --frames N --size S [--batch B]"
               " [--max-seconds T]\n"
               "  veth_throughput sendmmsg IFACE --pcap FILE [--loop L] [--batch B]"
               " [--max-seconds T]\n"
               "  veth_throughput blast IFACE --frames N --size S [--batch B] [--qdisc-bypass]"
               " [--first-sequence Q] [--max-seconds T]\n"
               "  veth_throughput receive IFACE --frames N [--timeout T] [--max-seconds T]"
               " [--filter BPF] [--rx-packets P] [--hold]\n"
               "  veth_throughput watch IFACE --frames N [--timeout T] [--max-seconds T]\n"
               "  veth_throughput write-pcap FILE --frames N --size S\n"
               "  veth_throughput write-trafgen FILE --frames N --size S\n");
}

struct Args {
  std::string mode;
  std::string target;  // interface or file
  uint64_t frames = 0;
  size_t size = 64;
  size_t batch = 0;             // 0: the mode's default
  size_t threads = 1;           // send: threads calling Binding::Send concurrently
  uint64_t first_sequence = 0;  // blast: sequence number of the first frame
  uint32_t rx_packets = 32768;  // receive: packet descriptors (x 2 KiB buffers = the 64 MiB ring)
  double timeout_seconds = 3;   // receive: idle time that ends the count
  double max_seconds = 60;      // hard bound of every loop
  bool qdisc_bypass = false;
  bool hold = false;  // receive: rx_hold_when_exhausted (frames wait in the ring)
  bool micro = false;  // send: the binding's capture handle in microseconds (no SO_TIMESTAMPNS)
  std::string filter;
  std::string pcap;   // sendmmsg: send this file's frames instead of generated ones
  uint64_t loop = 1;  // sendmmsg --pcap: times the file is sent
};

bool ParseNumber(const char* text, double* out) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(value >= 0)) return false;
  *out = value;
  return true;
}

bool ParseArgs(int argc, char** argv, Args* args) {
  if (argc < 3) return false;
  args->mode = argv[1];
  args->target = argv[2];
  for (int i = 3; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--hold") {
      args->hold = true;
      continue;
    }
    if (flag == "--qdisc-bypass") {
      args->qdisc_bypass = true;
      continue;
    }
    if (flag == "--micro") {
      args->micro = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "veth_throughput: %s needs a value\n", flag.c_str());
      return false;
    }
    const char* value = argv[++i];
    if (flag == "--filter") {
      args->filter = value;
      continue;
    }
    if (flag == "--pcap") {
      args->pcap = value;
      continue;
    }
    double number = 0;
    if (!ParseNumber(value, &number)) {
      std::fprintf(stderr, "veth_throughput: bad value '%s' for %s\n", value, flag.c_str());
      return false;
    }
    if (flag == "--frames") {
      args->frames = static_cast<uint64_t>(number);
    } else if (flag == "--size") {
      args->size = static_cast<size_t>(number);
    } else if (flag == "--batch") {
      args->batch = static_cast<size_t>(number);
    } else if (flag == "--first-sequence") {
      args->first_sequence = static_cast<uint64_t>(number);
    } else if (flag == "--rx-packets") {
      args->rx_packets = static_cast<uint32_t>(std::min(number, 1048576.0));
    } else if (flag == "--loop") {
      args->loop = static_cast<uint64_t>(number);
    } else if (flag == "--threads") {
      args->threads = static_cast<size_t>(number);
    } else if (flag == "--timeout") {
      args->timeout_seconds = number;
    } else if (flag == "--max-seconds") {
      args->max_seconds = number;
    } else {
      std::fprintf(stderr, "veth_throughput: unknown flag %s\n", flag.c_str());
      return false;
    }
  }
  if (args->rx_packets < 64) {
    std::fprintf(stderr, "veth_throughput: --rx-packets must be at least 64\n");
    return false;
  }
  if (args->threads < 1 || args->threads > 64) {
    std::fprintf(stderr, "veth_throughput: --threads must be 1 to 64\n");
    return false;
  }
  if (args->batch > 65536) {
    std::fprintf(stderr, "veth_throughput: --batch must be at most 65536\n");
    return false;
  }
  if (!args->pcap.empty() && args->mode != "sendmmsg") {
    std::fprintf(stderr, "veth_throughput: --pcap is for the sendmmsg mode\n");
    return false;
  }
  if (args->loop < 1) {
    std::fprintf(stderr, "veth_throughput: --loop must be at least 1\n");
    return false;
  }
  if (args->frames == 0 && args->pcap.empty()) {
    std::fprintf(stderr, "veth_throughput: --frames must be at least 1\n");
    return false;
  }
  if (args->size < kMinFrame || args->size > kMaxFrame) {
    std::fprintf(stderr, "veth_throughput: --size must be %zu to %zu bytes\n", kMinFrame, kMaxFrame);
    return false;
  }
  return true;
}

// Writes the header and fill of a frame of `frame.size()` bytes; the sequence number is
// set per send with SetSequence.
void BuildFrame(std::span<uint8_t> frame) {
  std::memcpy(frame.data(), kDst, 6);
  std::memcpy(frame.data() + 6, kSrc, 6);
  frame[12] = static_cast<uint8_t>(kEthertype >> 8);
  frame[13] = static_cast<uint8_t>(kEthertype & 0xff);
  for (size_t i = kMinFrame; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>(i);
}

void SetSequence(uint8_t* frame, uint64_t sequence) {
  for (int i = 0; i < 8; ++i) frame[kHeaderBytes + i] = static_cast<uint8_t>(sequence >> (56 - 8 * i));
}

uint64_t GetSequence(const uint8_t* frame) {
  uint64_t sequence = 0;
  for (int i = 0; i < 8; ++i) sequence = (sequence << 8) | frame[kHeaderBytes + i];
  return sequence;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Frames of `size` bytes in one contiguous block, `count` of them.
struct FrameBlock {
  FrameBlock(size_t count, size_t size) : bytes(count * size), frame_size(size) {
    for (size_t i = 0; i < count; ++i) BuildFrame({bytes.data() + i * size, size});
  }
  uint8_t* frame(size_t i) { return bytes.data() + i * frame_size; }
  std::vector<uint8_t> bytes;
  size_t frame_size;
};

// ---- send: Binding::Send ----------------------------------------------------------------

int RunSend(const Args& args) {
  const size_t batch = args.batch == 0 ? 256 : args.batch;
  BindingOptions options;
  options.pcap_buffer_bytes = 1u << 20;  // this side receives nothing
  options.rx.packet_descriptors = 256;
  options.rx.buffer_count = 512;
  options.rx_preallocate = 64;
  options.tx.packet_descriptors = 4096;
  options.tx.buffer_count = 8192;
  if (args.micro) options.timestamp_precision = pktpool::capture::TimestampPrecision::kMicro;
  auto opened = Binding::Open(args.target, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "send: Binding::Open(%s): %s\n", args.target.c_str(),
                 opened.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<Binding> binding = std::move(*opened);

  // Each sending thread has its own frames and sends every threads-th batch; one thread
  // is the plain case (one caller, one Send at a time).
  const SendOptions send_options{.wait_for_resources = absl::Seconds(5)};
  struct Tally {
    uint64_t attempted = 0, sent = 0, failed = 0;
    uint64_t by_error[pktpool::capture::kSendErrorCount] = {};
    std::string first_detail;
    bool timed_out = false;
  };
  const size_t threads = std::max<size_t>(args.threads, 1);
  std::vector<Tally> tallies(threads);
  const uint64_t batches = (args.frames + batch - 1) / batch;
  const Clock::time_point start = Clock::now();
  auto sender = [&](size_t t) {
    Tally& tally = tallies[t];
    FrameBlock block(batch, args.size);
    std::vector<std::span<const uint8_t>> spans(batch);
    for (size_t i = 0; i < batch; ++i) spans[i] = {block.frame(i), args.size};
    for (uint64_t b = t; b < batches; b += threads) {
      if (SecondsSince(start) > args.max_seconds) {
        tally.timed_out = true;
        break;
      }
      const uint64_t first = b * batch;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(batch, args.frames - first));
      for (size_t i = 0; i < n; ++i) SetSequence(block.frame(i), first + i);
      const std::vector<FrameResult> results =
          binding->Send(std::span<const std::span<const uint8_t>>(spans.data(), n), send_options);
      for (const FrameResult& r : results) {
        if (r.error == SendError::kNone && r.sent > 0) {
          ++tally.sent;
        } else {
          ++tally.failed;
          ++tally.by_error[static_cast<int>(r.error)];
          if (tally.first_detail.empty() && !r.detail.empty()) tally.first_detail = r.detail;
        }
      }
      tally.attempted += n;
    }
  };
  if (threads == 1) {
    sender(0);
  } else {
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; ++t) workers.emplace_back(sender, t);
    for (std::thread& w : workers) w.join();
  }
  uint64_t attempted = 0, sent = 0, failed = 0;
  uint64_t failures_by_error[pktpool::capture::kSendErrorCount] = {};
  std::string first_detail;
  bool timed_out = false;
  for (const Tally& tally : tallies) {
    attempted += tally.attempted;
    sent += tally.sent;
    failed += tally.failed;
    for (int e = 0; e < pktpool::capture::kSendErrorCount; ++e) failures_by_error[e] += tally.by_error[e];
    if (first_detail.empty()) first_detail = tally.first_detail;
    timed_out |= tally.timed_out;
  }
  const double seconds = SecondsSince(start);
  binding->Close();  // the receive thread publishes libpcap's counters as it stops
  const BindingStats stats = binding->Stats();

  std::printf("send: %s, %zu-byte frames, batches of %zu, %zu sending thread%s: %llu of %llu "
              "sent in %.3f s, %.0f frames/s, %llu failed\n",
              args.target.c_str(), args.size, batch, threads, threads == 1 ? "" : "s",
              static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(attempted), seconds, sent / seconds,
              static_cast<unsigned long long>(failed));
  for (int e = 1; e < pktpool::capture::kSendErrorCount; ++e) {
    if (failures_by_error[e] == 0) continue;
    std::printf("  failed %s: %llu\n",
                std::string(pktpool::capture::SendErrorName(static_cast<SendError>(e))).c_str(),
                static_cast<unsigned long long>(failures_by_error[e]));
  }
  if (!first_detail.empty()) std::printf("  first failure: %s\n", first_detail.c_str());
  // The binding's capture handle on the sending interface: frames it saw while sending.
  std::printf("  binding stats: tx_frames=%llu tx_bytes=%llu rx_frames=%llu pcap received=%llu "
              "dropped=%llu\n",
              static_cast<unsigned long long>(stats.tx_frames),
              static_cast<unsigned long long>(stats.tx_bytes),
              static_cast<unsigned long long>(stats.rx_frames),
              static_cast<unsigned long long>(stats.pcap.received),
              static_cast<unsigned long long>(stats.pcap.dropped));
  if (timed_out) std::printf("  stopped after --max-seconds %.0f\n", args.max_seconds);
  std::printf("result mode=send size=%zu threads=%zu frames=%llu sent=%llu failed=%llu "
              "seconds=%.6f fps=%.0f\n",
              args.size, threads, static_cast<unsigned long long>(attempted),
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(failed),
              seconds, sent / seconds);
  return 0;
}

// ---- inject: the bare pcap_inject loop ------------------------------------------------------

int RunInject(const Args& args) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pcap = pcap_open_live(args.target.c_str(), 64, 0, 1000, errbuf);
  if (pcap == nullptr) {
    std::fprintf(stderr, "inject: pcap_open_live(%s): %s\n", args.target.c_str(), errbuf);
    return 2;
  }
  std::vector<uint8_t> frame(args.size);
  BuildFrame(frame);
  uint64_t attempted = 0, sent = 0, failed = 0;
  std::string first_error;
  bool timed_out = false;
  const Clock::time_point start = Clock::now();
  for (; attempted < args.frames; ++attempted) {
    if ((attempted & 1023) == 0 && SecondsSince(start) > args.max_seconds) {
      timed_out = true;
      break;
    }
    SetSequence(frame.data(), attempted);
    if (pcap_inject(pcap, frame.data(), frame.size()) < 0) {
      ++failed;
      if (first_error.empty()) first_error = pcap_geterr(pcap);
    } else {
      ++sent;
    }
  }
  const double seconds = SecondsSince(start);
  pcap_close(pcap);
  std::printf("inject: %s, %zu-byte frames: %llu of %llu sent in %.3f s, %.0f frames/s, "
              "%llu failed\n",
              args.target.c_str(), args.size, static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(attempted), seconds, sent / seconds,
              static_cast<unsigned long long>(failed));
  if (!first_error.empty()) std::printf("  first failure: %s\n", first_error.c_str());
  if (timed_out) std::printf("  stopped after --max-seconds %.0f\n", args.max_seconds);
  std::printf("result mode=inject size=%zu frames=%llu sent=%llu failed=%llu seconds=%.6f "
              "fps=%.0f\n",
              args.size, static_cast<unsigned long long>(attempted),
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(failed),
              seconds, sent / seconds);
  return 0;
}

// ---- blast and sendmmsg: batched AF_PACKET senders -------------------------------------------

// A file descriptor closed when it goes out of scope.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// An AF_PACKET/SOCK_RAW socket bound to `iface` with protocol 0: it only sends, and the
// kernel hands it no received frame. With `qdisc_bypass`, PACKET_QDISC_BYPASS: frames go
// straight to the driver's transmit, as trafgen's and the binding's do.
absl::StatusOr<ScopedFd> OpenSendSocket(const std::string& iface, bool qdisc_bypass) {
  const unsigned ifindex = if_nametoindex(iface.c_str());
  if (ifindex == 0) return absl::NotFoundError("no interface named '" + iface + "'");
  ScopedFd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::ErrnoToStatus(errno, "socket(AF_PACKET)");
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = 0;
  address.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::ErrnoToStatus(errno, "bind(" + iface + ")");
  }
  if (qdisc_bypass) {
    const int one = 1;
    if (setsockopt(fd.get(), SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0) {
      return absl::ErrnoToStatus(errno, "PACKET_QDISC_BYPASS");
    }
  }
  return fd;
}

// Where each message goes: the interface and the ethertype (the frame carries its own header).
sockaddr_ll Destination(const std::string& iface) {
  sockaddr_ll destination{};
  destination.sll_family = AF_PACKET;
  destination.sll_protocol = htons(kEthertype);
  destination.sll_ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  destination.sll_halen = 6;
  std::memcpy(destination.sll_addr, kDst, 6);
  return destination;
}

// What one sending loop did.
struct SendTally {
  uint64_t offered = 0;    // frames handed to sendmmsg or given up on
  uint64_t sent = 0;       // frames the kernel took
  uint64_t retries = 0;    // ENOBUFS/EAGAIN waits (veth's qdisc is noqueue: none seen)
  uint64_t abandoned = 0;  // frames given up after 40 ms of ENOBUFS/EAGAIN, or an error
  std::string first_error;
  bool timed_out = false;
  double seconds = 0;
};

// Hands messages[0, n) to the kernel with sendmmsg; ENOBUFS/EAGAIN are retried for at
// most 40 ms (2000 waits of 20 us). Returns how many the kernel took.
size_t SendBatch(int fd, mmsghdr* messages, size_t n, SendTally& tally) {
  constexpr int kMaxRetriesPerBatch = 2000;
  size_t done = 0;
  int attempts = 0;
  while (done < n) {
    const int got = sendmmsg(fd, messages + done, static_cast<unsigned>(n - done), 0);
    if (got > 0) {
      done += static_cast<size_t>(got);
      continue;
    }
    const int error = got < 0 ? errno : EAGAIN;
    if (error == EINTR) continue;
    if ((error == ENOBUFS || error == EAGAIN) && ++attempts <= kMaxRetriesPerBatch) {
      ++tally.retries;
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      continue;
    }
    if (tally.first_error.empty()) tally.first_error = std::strerror(error);
    break;
  }
  return done;
}

// Sends `total` frames in sendmmsg calls of up to `batch` messages. Before each call,
// point_at(first, n, iov) points iov[0, n) at frames first .. first + n - 1 of the run.
template <typename PointAt>
SendTally SendLoop(int fd, const sockaddr_ll& destination, uint64_t total, size_t batch,
                   double max_seconds, PointAt point_at) {
  std::vector<iovec> iov(batch);
  std::vector<mmsghdr> messages(batch);
  for (size_t i = 0; i < batch; ++i) {
    messages[i] = {};
    messages[i].msg_hdr.msg_name = const_cast<sockaddr_ll*>(&destination);
    messages[i].msg_hdr.msg_namelen = sizeof(destination);
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  SendTally tally;
  const Clock::time_point start = Clock::now();
  while (tally.offered < total) {
    if (SecondsSince(start) > max_seconds) {
      tally.timed_out = true;
      break;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(batch, total - tally.offered));
    point_at(tally.offered, n, iov.data());
    const size_t done = SendBatch(fd, messages.data(), n, tally);
    tally.sent += done;
    tally.abandoned += n - done;
    tally.offered += n;
  }
  tally.seconds = SecondsSince(start);
  return tally;
}

void PrintSendTally(const char* mode, const std::string& what, const SendTally& tally,
                    double max_seconds) {
  std::printf("%s: %s: %llu of %llu sent in %.3f s, %.0f frames/s, %llu retries, %llu "
              "abandoned\n",
              mode, what.c_str(), static_cast<unsigned long long>(tally.sent),
              static_cast<unsigned long long>(tally.offered), tally.seconds,
              tally.sent / tally.seconds, static_cast<unsigned long long>(tally.retries),
              static_cast<unsigned long long>(tally.abandoned));
  if (!tally.first_error.empty()) std::printf("  first failure: %s\n", tally.first_error.c_str());
  if (tally.timed_out) std::printf("  stopped after --max-seconds %.0f\n", max_seconds);
}

// blast, and sendmmsg of generated frames: a block of `batch` frames whose sequence
// numbers are rewritten before each call (the binding's send mode does the same).
int RunGeneratedSendmmsg(const Args& args, bool qdisc_bypass) {
  const size_t batch = args.batch == 0 ? 64 : std::min<size_t>(args.batch, 1024);
  absl::StatusOr<ScopedFd> fd = OpenSendSocket(args.target, qdisc_bypass);
  if (!fd.ok()) {
    std::fprintf(stderr, "%s: %s\n", args.mode.c_str(), fd.status().ToString().c_str());
    return 2;
  }
  FrameBlock block(batch, args.size);
  const SendTally tally = SendLoop(
      fd->get(), Destination(args.target), args.frames, batch, args.max_seconds,
      [&](uint64_t first, size_t n, iovec* iov) {
        for (size_t i = 0; i < n; ++i) {
          SetSequence(block.frame(i), args.first_sequence + first + i);
          iov[i] = {block.frame(i), args.size};
        }
      });
  const std::string what = args.target + ", " + std::to_string(args.size) +
                           "-byte frames, sendmmsg batches of " + std::to_string(batch) +
                           (qdisc_bypass ? ", qdisc bypass" : "");
  PrintSendTally(args.mode.c_str(), what, tally, args.max_seconds);
  std::printf("result mode=%s size=%zu frames=%llu sent=%llu failed=%llu seconds=%.6f "
              "fps=%.0f\n",
              args.mode.c_str(), args.size, static_cast<unsigned long long>(tally.offered),
              static_cast<unsigned long long>(tally.sent),
              static_cast<unsigned long long>(tally.abandoned), tally.seconds,
              tally.sent / tally.seconds);
  return 0;
}

// The frames of a pcap file held in memory, as tcpreplay's --preload-pcap holds them.
struct PcapFrames {
  std::vector<uint8_t> bytes;   // every frame's captured bytes, back to back
  std::vector<size_t> offsets;  // frame i is bytes[offsets[i], offsets[i + 1])
  size_t count() const { return offsets.size() - 1; }
  iovec frame(size_t i) {
    return {bytes.data() + offsets[i], offsets[i + 1] - offsets[i]};
  }
};

// Reads every frame of an Ethernet pcap file into memory. Frames are sent as captured
// (caplen bytes), as tcpreplay sends them.
absl::StatusOr<PcapFrames> LoadPcap(const std::string& path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pcap = pcap_open_offline(path.c_str(), errbuf);
  if (pcap == nullptr) return absl::InvalidArgumentError(errbuf);  // names the file
  std::unique_ptr<pcap_t, decltype(&pcap_close)> closer(pcap, &pcap_close);
  if (pcap_datalink(pcap) != DLT_EN10MB) {
    return absl::InvalidArgumentError(path + ": not an Ethernet capture");
  }
  PcapFrames frames;
  struct stat file {};
  if (stat(path.c_str(), &file) == 0) frames.bytes.reserve(static_cast<size_t>(file.st_size));
  frames.offsets.push_back(0);
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int got = 0;
  while ((got = pcap_next_ex(pcap, &header, &data)) == 1) {
    frames.bytes.insert(frames.bytes.end(), data, data + header->caplen);
    frames.offsets.push_back(frames.bytes.size());
  }
  if (got != PCAP_ERROR_BREAK) {
    return absl::DataLossError(path + ": " + pcap_geterr(pcap));
  }
  if (frames.count() == 0) return absl::InvalidArgumentError(path + ": no frames");
  return frames;
}

// sendmmsg --pcap: every frame of the file, --loop times, straight from memory (no copy
// in user space), in calls of up to `batch` frames. The clock starts after the file is read.
int RunPcapSendmmsg(const Args& args) {
  const size_t batch = args.batch == 0 ? 64 : std::min<size_t>(args.batch, 1024);
  absl::StatusOr<PcapFrames> frames = LoadPcap(args.pcap);
  if (!frames.ok()) {
    std::fprintf(stderr, "sendmmsg: %s\n", frames.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<ScopedFd> fd = OpenSendSocket(args.target, /*qdisc_bypass=*/true);
  if (!fd.ok()) {
    std::fprintf(stderr, "sendmmsg: %s\n", fd.status().ToString().c_str());
    return 2;
  }
  const uint64_t per_loop = frames->count();
  const uint64_t total = per_loop * args.loop;
  const SendTally tally = SendLoop(
      fd->get(), Destination(args.target), total, batch, args.max_seconds,
      [&](uint64_t first, size_t n, iovec* iov) {
        for (size_t i = 0; i < n; ++i) iov[i] = frames->frame((first + i) % per_loop);
      });
  const std::string what = args.target + ", " + args.pcap + " (" + std::to_string(per_loop) +
                           " frames) x " + std::to_string(args.loop) +
                           ", sendmmsg batches of " + std::to_string(batch) + ", qdisc bypass";
  PrintSendTally("sendmmsg", what, tally, args.max_seconds);
  std::printf("result mode=sendmmsg pcap=%s loop=%llu frames=%llu sent=%llu failed=%llu "
              "seconds=%.6f fps=%.0f\n",
              args.pcap.c_str(), static_cast<unsigned long long>(args.loop),
              static_cast<unsigned long long>(tally.offered),
              static_cast<unsigned long long>(tally.sent),
              static_cast<unsigned long long>(tally.abandoned), tally.seconds,
              tally.sent / tally.seconds);
  return 0;
}

// ---- watch: the interface's transmit counter, for a rate measured the same way for every tool

// The value of a sysfs counter file, read again from its start.
absl::StatusOr<uint64_t> ReadCounter(int fd) {
  char text[32] = {};
  const ssize_t got = pread(fd, text, sizeof(text) - 1, 0);
  if (got <= 0) return absl::ErrnoToStatus(got < 0 ? errno : EIO, "read counter");
  return std::strtoull(text, nullptr, 10);
}

// Polls /sys/class/net/IFACE/statistics/tx_packets every 200 us. The rate is the frames
// counted from the first sample that saw the counter move to the first that saw it reach
// --frames more than at the start, over the time between those samples: what reached the
// wire, whoever sent it, including anything a tool still flushes after its own clock stops.
int RunWatch(const Args& args) {
  const std::string path = "/sys/class/net/" + args.target + "/statistics/tx_packets";
  ScopedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    std::fprintf(stderr, "watch: %s: %s\n", path.c_str(), std::strerror(errno));
    return 2;
  }
  absl::StatusOr<uint64_t> base = ReadCounter(fd.get());
  if (!base.ok()) {
    std::fprintf(stderr, "watch: %s: %s\n", path.c_str(), base.status().ToString().c_str());
    return 2;
  }
  std::printf("ready\n");
  std::fflush(stdout);

  const Clock::time_point start = Clock::now();
  bool moved = false;
  uint64_t first_count = 0, last_count = *base;
  Clock::time_point first_seen, last_change = start;
  const char* ended = "all frames counted";
  while (true) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    absl::StatusOr<uint64_t> count = ReadCounter(fd.get());
    const Clock::time_point now = Clock::now();
    if (!count.ok()) {
      std::fprintf(stderr, "watch: %s\n", count.status().ToString().c_str());
      return 2;
    }
    if (*count != last_count) {
      if (!moved) {
        moved = true;
        first_count = *count;
        first_seen = now;
      }
      last_count = *count;
      last_change = now;
      if (last_count - *base >= args.frames) break;
    } else if (moved && std::chrono::duration<double>(now - last_change).count() >
                            args.timeout_seconds) {
      ended = "idle timeout";
      break;
    }
    if (SecondsSince(start) > args.max_seconds) {
      ended = "--max-seconds";
      break;
    }
  }
  const uint64_t counted = last_count - *base;
  const double seconds = moved ? std::chrono::duration<double>(last_change - first_seen).count() : 0;
  const double fps = seconds > 0 ? static_cast<double>(last_count - first_count) / seconds : 0;
  std::printf("watch: %s tx_packets: %llu of %llu frames counted (%s), %.0f frames/s over "
              "%.3f s from the first sample that saw it move\n",
              args.target.c_str(), static_cast<unsigned long long>(counted),
              static_cast<unsigned long long>(args.frames), ended, fps, seconds);
  std::printf("result mode=watch frames=%llu counted=%llu seconds=%.6f fps=%.0f\n",
              static_cast<unsigned long long>(args.frames),
              static_cast<unsigned long long>(counted), seconds, fps);
  return 0;
}

// ---- receive: Binding + one subscriber ------------------------------------------------------

int RunReceive(const Args& args) {
  BindingOptions options;
  options.pcap_buffer_bytes = 64u << 20;
  options.filter = args.filter;
  // The same memory budget as the 64 MiB ring tcpdump gets: one 2 KiB buffer per packet.
  options.rx.packet_descriptors = args.rx_packets;
  options.rx.buffer_count = args.rx_packets;
  options.rx_preallocate = args.rx_packets / 2;
  options.rx_hold_when_exhausted = args.hold;
  options.tx.packet_descriptors = 64;
  options.tx.buffer_count = 64;
  auto opened = Binding::Open(args.target, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "receive: Binding::Open(%s): %s\n", args.target.c_str(),
                 opened.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<Binding> binding = std::move(*opened);
  std::shared_ptr<CaptureSubscriber> subscriber = binding->Subscribe("veth_throughput", 1u << 16);

  std::atomic<uint64_t> ours{0}, others{0}, out_of_order{0};
  std::atomic<int64_t> first_ns{-1}, last_ns{-1};
  std::atomic<bool> stop{false};
  const Clock::time_point start = Clock::now();
  std::thread consumer([&] {
    std::vector<RxFrame> batch;
    batch.reserve(1024);
    uint64_t expected = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const size_t got = subscriber->PopBatch(&batch, 1024, absl::Milliseconds(50));
      if (got == 0) {
        if (subscriber->closed()) break;
        continue;
      }
      uint64_t mine = 0, foreign = 0, disorder = 0;
      for (const RxFrame& frame : batch) {
        const pktpool::pool::Buffer* buffer = frame.packet().first_buffer();
        const uint8_t* data = buffer != nullptr ? buffer->address() : nullptr;
        if (data != nullptr && buffer->length() >= kMinFrame && data[12] == (kEthertype >> 8) &&
            data[13] == (kEthertype & 0xff)) {
          const uint64_t sequence = GetSequence(data);
          if (sequence < expected) ++disorder;
          expected = sequence + 1;
          ++mine;
        } else {
          ++foreign;
        }
      }
      batch.clear();  // releases the frames: back to the binding's receive pool
      const int64_t now =
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
      if (mine > 0) {
        int64_t unset = -1;
        first_ns.compare_exchange_strong(unset, now, std::memory_order_relaxed);
        last_ns.store(now, std::memory_order_relaxed);
      }
      ours.fetch_add(mine, std::memory_order_relaxed);
      others.fetch_add(foreign, std::memory_order_relaxed);
      out_of_order.fetch_add(disorder, std::memory_order_relaxed);
    }
  });

  std::printf("ready\n");
  std::fflush(stdout);

  // Count until every frame is in, or nothing new came for --timeout, or --max-seconds.
  uint64_t last_count = 0;
  Clock::time_point last_change = Clock::now();
  const char* ended = "all frames seen";
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const uint64_t count = ours.load(std::memory_order_relaxed);
    if (count >= args.frames) break;
    if (count != last_count) {
      last_count = count;
      last_change = Clock::now();
    } else if (SecondsSince(last_change) > args.timeout_seconds) {
      ended = "idle timeout";
      break;
    }
    if (SecondsSince(start) > args.max_seconds) {
      ended = "--max-seconds";
      break;
    }
  }
  stop.store(true, std::memory_order_relaxed);
  consumer.join();
  // The receive thread publishes libpcap's counters every 100 ms, and once more on Close.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const BindingStats before_close = binding->Stats();
  binding->Close();
  const BindingStats stats = binding->Stats();
  const pktpool::capture::SubscriberStats sub = subscriber->Stats();

  const uint64_t received = ours.load();
  const uint64_t loss = args.frames > received ? args.frames - received : 0;
  const double span_s =
      first_ns.load() >= 0 ? static_cast<double>(last_ns.load() - first_ns.load()) / 1e9 : 0;
  std::printf("receive: %s: %llu of %llu frames received (%s), loss %llu (%.3f%%), "
              "%llu other frames, %llu sequence regressions (normal when senders interleave), "
              "%.0f frames/s from first to last\n",
              args.target.c_str(), static_cast<unsigned long long>(received),
              static_cast<unsigned long long>(args.frames), ended,
              static_cast<unsigned long long>(loss), 100.0 * static_cast<double>(loss) / args.frames,
              static_cast<unsigned long long>(others.load()),
              static_cast<unsigned long long>(out_of_order.load()),
              span_s > 0 ? static_cast<double>(received) / span_s : 0.0);
  std::printf("  binding stats: rx_frames=%llu rx_resource_drops=%llu subscriber delivered=%llu "
              "dropped=%llu pcap received=%llu dropped=%llu if_dropped=%llu\n",
              static_cast<unsigned long long>(before_close.rx_frames),
              static_cast<unsigned long long>(before_close.rx_resource_drops),
              static_cast<unsigned long long>(sub.delivered),
              static_cast<unsigned long long>(sub.dropped),
              static_cast<unsigned long long>(stats.pcap.received),
              static_cast<unsigned long long>(stats.pcap.dropped),
              static_cast<unsigned long long>(stats.pcap.interface_dropped));
  std::printf("result mode=receive frames=%llu received=%llu loss=%llu rx_frames=%llu "
              "rx_resource_drops=%llu subscriber_dropped=%llu pcap_received=%llu "
              "pcap_dropped=%llu seconds=%.6f\n",
              static_cast<unsigned long long>(args.frames), static_cast<unsigned long long>(received),
              static_cast<unsigned long long>(loss),
              static_cast<unsigned long long>(before_close.rx_frames),
              static_cast<unsigned long long>(before_close.rx_resource_drops),
              static_cast<unsigned long long>(sub.dropped),
              static_cast<unsigned long long>(stats.pcap.received),
              static_cast<unsigned long long>(stats.pcap.dropped), span_s);
  return 0;
}

// ---- write-pcap ----------------------------------------------------------------------------

int RunWritePcap(const Args& args) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  if (dead == nullptr) {
    std::fprintf(stderr, "write-pcap: pcap_open_dead failed\n");
    return 2;
  }
  pcap_dumper_t* dumper = pcap_dump_open(dead, args.target.c_str());
  if (dumper == nullptr) {
    std::fprintf(stderr, "write-pcap: %s: %s\n", args.target.c_str(), pcap_geterr(dead));
    pcap_close(dead);
    return 2;
  }
  std::vector<uint8_t> frame(args.size);
  BuildFrame(frame);
  pcap_pkthdr header{};
  header.caplen = static_cast<bpf_u_int32>(args.size);
  header.len = static_cast<bpf_u_int32>(args.size);
  for (uint64_t i = 0; i < args.frames; ++i) {
    SetSequence(frame.data(), i);
    header.ts.tv_sec = static_cast<time_t>(1764028800 + i / 1000000);  // 2025-11-25, 1 us apart
    header.ts.tv_usec = static_cast<suseconds_t>(i % 1000000);
    pcap_dump(reinterpret_cast<u_char*>(dumper), &header, frame.data());
  }
  const bool flushed = pcap_dump_flush(dumper) == 0;
  pcap_dump_close(dumper);
  pcap_close(dead);
  if (!flushed) {
    std::fprintf(stderr, "write-pcap: %s: write failed\n", args.target.c_str());
    return 2;
  }
  std::printf("result mode=write-pcap size=%zu frames=%llu file=%s\n", args.size,
              static_cast<unsigned long long>(args.frames), args.target.c_str());
  return 0;
}

// ---- write-trafgen ------------------------------------------------------------------------

// The frames of write-pcap as a trafgen configuration: per frame one packet, its header
// bytes, c64() for the big-endian sequence number and seqinc() for the fill (byte i is
// i mod 256, as BuildFrame writes it). trafgen sends the packets round robin, so --num
// larger than N repeats them; `trafgen -o FILE.pcap` of it equals write-pcap's frames.
int RunWriteTrafgen(const Args& args) {
  std::unique_ptr<FILE, decltype(&std::fclose)> out(std::fopen(args.target.c_str(), "w"),
                                                    &std::fclose);
  if (out == nullptr) {
    std::fprintf(stderr, "write-trafgen: %s: %s\n", args.target.c_str(), std::strerror(errno));
    return 2;
  }
  std::fprintf(out.get(),
               "/* %llu frames of %zu bytes from bench/veth_throughput write-trafgen: "
               "02:00:00:00:00:01 -> 02:00:00:00:00:02, 0x88b5, sequence number, fill */\n",
               static_cast<unsigned long long>(args.frames), args.size);
  const size_t fill = args.size - kMinFrame;
  for (uint64_t i = 0; i < args.frames; ++i) {
    std::fprintf(out.get(),
                 "{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, "
                 "c16(0x%04x), c64(%llu)",
                 kEthertype, static_cast<unsigned long long>(i));
    if (fill > 0) std::fprintf(out.get(), ", seqinc(%zu, %zu)", kMinFrame, fill);
    std::fprintf(out.get(), " }\n");
  }
  if (std::fflush(out.get()) != 0 || std::ferror(out.get())) {
    std::fprintf(stderr, "write-trafgen: %s: write failed\n", args.target.c_str());
    return 2;
  }
  std::printf("result mode=write-trafgen size=%zu frames=%llu file=%s\n", args.size,
              static_cast<unsigned long long>(args.frames), args.target.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    Usage();
    return 1;
  }
  if (args.mode == "send") return RunSend(args);
  if (args.mode == "inject") return RunInject(args);
  if (args.mode == "sendmmsg") {
    return args.pcap.empty() ? RunGeneratedSendmmsg(args, /*qdisc_bypass=*/true)
                             : RunPcapSendmmsg(args);
  }
  if (args.mode == "blast") return RunGeneratedSendmmsg(args, args.qdisc_bypass);
  if (args.mode == "watch") return RunWatch(args);
  if (args.mode == "receive") return RunReceive(args);
  if (args.mode == "write-pcap") return RunWritePcap(args);
  if (args.mode == "write-trafgen") return RunWriteTrafgen(args);
  std::fprintf(stderr, "veth_throughput: unknown mode '%s'\n", args.mode.c_str());
  Usage();
  return 1;
}
