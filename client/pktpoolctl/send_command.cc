// send: frames from hex, raw files or a pcap file, replayed like tcpreplay: the file's
// recorded timing (with --multiplier), --pps, --mbps or --topspeed; --loop, --limit,
// --duration; a summary like tcpreplay's. pktpoold keeps the time: timed frames go with
// their due offsets, ahead of the wire by a bounded look-ahead.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/pktpoolctl/commands.h"
#include "client/pktpoolctl/frame_text.h"
#include "client/pktpoolctl/interrupt.h"
#include "client/pktpoolctl/output.h"
#include "client/pktpoolctl/pcap_file.h"
#include "daemon/capture/send_schedule.h"
#include "google/protobuf/util/time_util.h"
#include "proto/pcap_records.h"

namespace pktpool::ctl {
namespace {

using Clock = std::chrono::steady_clock;
using google::protobuf::util::TimeUtil;

// How many frames and frame bytes go in one SendFrames message.
struct MessageBounds {
  size_t frames = 1024;
  size_t bytes = 4 << 20;
};
// What a message holds besides its frame bytes, at most: per frame a field tag and length
// (or a pcap record header) and an offset, and the request's other fields.
constexpr size_t kMessageOverheadBytes = 64 << 10;

// Messages stay well under the daemon's limits: the defaults above (under its default
// 4096 frames and 16 MiB), less when GetVersion says its limits.max_frames_per_batch or
// limits.max_message_bytes are smaller. A pcap file sent at top speed goes as record
// blobs (pcap_records) within the same bounds: a file that fits one message is one
// SendFrames, which the daemon repeats for --loop; a larger one streams, its first
// message leaving as soon as it is read.
MessageBounds BoundsFor(const v1::Limits& limits) {
  MessageBounds bounds;
  if (limits.max_frames_per_batch() > 0) {
    bounds.frames = std::min<size_t>(bounds.frames, limits.max_frames_per_batch());
  }
  if (limits.max_message_bytes() > kMessageOverheadBytes) {
    bounds.bytes = std::min<size_t>(bounds.bytes, limits.max_message_bytes() - kMessageOverheadBytes);
  }
  return bounds;
}

// The daemon's limits (GetVersion); a daemon that does not say gets the defaults.
MessageBounds AskBounds(PktPoolClient& client) {
  v1::GetVersionResponse version;
  if (!client.Version(&version).ok()) return MessageBounds{};
  return BoundsFor(version.limits());
}
// A looped batch is repeated by the daemon up to this many frames per message.
constexpr uint64_t kMaxRepeatedFramesPerMessage = 65536;
// Timed sends: a message holds at most this much of the timeline and is written at most
// this far ahead of its first frame's due time. The daemon keeps the time; this bounds
// what it holds, so Ctrl-C stops the send within about half a second.
constexpr int64_t kMessageSpanNs = 100'000'000;
constexpr int64_t kLookAheadNs = 250'000'000;

struct SendArgs {
  std::string interface;
  std::vector<std::string> hex;
  std::vector<std::string> raw_files;
  std::string pcap_file;
  uint32_t loop = 1;
  double pps = 0;
  double mbps = 0;
  double multiplier = 0;  // 0: not given (1)
  bool topspeed = false;
  uint64_t limit = 0;
  double duration_seconds = 0;
  uint32_t max_burst = 0;
  double wait_seconds = 0;
  MessageBounds bounds;  // the daemon's, once connected (AskBounds)
};

enum class Timing { kTopSpeed, kRate, kRecorded };

absl::StatusOr<std::vector<FileFrame>> LoadFrames(const SendArgs& args) {
  std::vector<FileFrame> frames;
  for (const std::string& hex : args.hex) {
    auto bytes = ParseHex(hex);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--hex '", hex, "': ", bytes.status().message()));
    }
    frames.push_back({std::move(*bytes), 0});
  }
  for (const std::string& path : args.raw_files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read --file ", path));
    std::string bytes(std::istreambuf_iterator<char>(in), {});
    if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat("--file ", path, " is empty"));
    frames.push_back({std::move(bytes), 0});
  }
  if (!args.pcap_file.empty()) {
    auto file = ReadPcapFile(args.pcap_file);
    if (!file.ok()) return file.status();
    if (file->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(args.pcap_file, " holds no frames"));
    }
    for (auto& frame : *file) frames.push_back(std::move(frame));
  }
  return frames;
}

// The timing options that exclude each other, named as the user typed them.
absl::Status CheckTimingOptions(const SendArgs& args) {
  auto both = [](const char* a, const char* b, const char* why) {
    return absl::InvalidArgumentError(absl::StrCat(a, " and ", b, " exclude each other: ", why));
  };
  const bool multiplier = args.multiplier > 0;
  if (args.pps > 0 && args.mbps > 0) return both("--pps", "--mbps", "pick one rate");
  if (args.topspeed && args.pps > 0) return both("--topspeed", "--pps", "pick one");
  if (args.topspeed && args.mbps > 0) return both("--topspeed", "--mbps", "pick one");
  if (multiplier && args.topspeed) {
    return both("--multiplier", "--topspeed", "--multiplier scales the recorded timing");
  }
  if (multiplier && (args.pps > 0 || args.mbps > 0)) {
    return both("--multiplier", args.pps > 0 ? "--pps" : "--mbps",
                "--multiplier scales the pcap's recorded timing, a rate replaces it");
  }
  if (multiplier && args.pcap_file.empty()) {
    return absl::InvalidArgumentError(
        "--multiplier scales a pcap file's recorded timing: it needs --pcap FILE");
  }
  const bool recorded = !args.pcap_file.empty() && !args.topspeed && args.pps == 0 && args.mbps == 0;
  if (recorded && (!args.hex.empty() || !args.raw_files.empty())) {
    return both(args.hex.empty() ? "--file" : "--hex", "--pcap's recorded timing",
                "those frames have no recorded time; add --pps, --mbps or --topspeed");
  }
  if (args.max_burst > 0 && !recorded && args.pps == 0 && args.mbps == 0) {
    return both("--max-burst", args.topspeed ? "--topspeed" : "sending at top speed",
                "--max-burst bounds the catch-up of a timed send (--pps, --mbps or a "
                "pcap's recorded timing)");
  }
  return absl::OkStatus();
}

Timing TimingOf(const SendArgs& args) {
  if (args.pps > 0 || args.mbps > 0) return Timing::kRate;
  if (!args.pcap_file.empty() && !args.topspeed) return Timing::kRecorded;  // tcpreplay's default
  return Timing::kTopSpeed;
}

// The fields every message of the send carries.
v1::SendFramesRequest BaseRequest(const SendArgs& args, Timing timing) {
  v1::SendFramesRequest request;
  request.set_interface(args.interface);
  if (args.wait_seconds > 0) {
    *request.mutable_wait_for_resources() =
        TimeUtil::NanosecondsToDuration(static_cast<int64_t>(args.wait_seconds * 1e9));
  }
  request.set_limit(args.limit);
  if (args.duration_seconds > 0) {
    *request.mutable_duration() =
        TimeUtil::NanosecondsToDuration(static_cast<int64_t>(args.duration_seconds * 1e9));
  }
  if (timing == Timing::kRate) {
    request.set_frames_per_second(args.pps);
    request.set_megabits_per_second(args.mbps);
  }
  if (timing == Timing::kRecorded && args.multiplier > 0) request.set_multiplier(args.multiplier);
  if (timing != Timing::kTopSpeed) request.set_max_burst(args.max_burst);
  return request;
}

// Splits frames [0, n) into message-sized runs: {first, count}.
std::vector<std::pair<size_t, size_t>> Chunks(const std::vector<FileFrame>& frames,
                                              const MessageBounds& bounds) {
  std::vector<std::pair<size_t, size_t>> chunks;
  size_t first = 0, bytes = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const size_t count = i - first;
    if (count > 0 && (count == bounds.frames || bytes + frames[i].data.size() > bounds.bytes)) {
      chunks.emplace_back(first, count);
      first = i;
      bytes = 0;
    }
    bytes += frames[i].data.size();
  }
  chunks.emplace_back(first, frames.size() - first);
  return chunks;
}

// What came back, for the summary.
struct SendTotals {
  v1::SendFramesResponse response;
  double seconds = 0;  // the whole command, as a user times it
  bool interrupted = false;
};

// One SendFrames call: the batch fits one message (`request`, its frames' sizes in
// `frame_sizes`); per-frame outcomes are printed.
int SendUnary(PktPoolClient& client, const v1::SendFramesRequest& request,
              const std::vector<size_t>& frame_sizes, const GlobalOptions& options,
              SendTotals* totals) {
  const auto start = Clock::now();
  grpc::Status status = client.Send(request, &totals->response);
  totals->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!status.ok()) return ReportRefused(status);
  if (!options.json) {
    for (int i = 0; i < totals->response.outcomes_size(); ++i) {
      const auto& outcome = totals->response.outcomes(i);
      if (outcome.result() == v1::SEND_RESULT_SENT || outcome.result() == v1::SEND_RESULT_SKIPPED) {
        continue;
      }
      std::string reason = v1::SendResult_Name(outcome.result());
      std::fprintf(stderr, "pktpoolctl: frame %d (%zu bytes): %s%s%s\n", i + 1,
                   i < static_cast<int>(frame_sizes.size()) ? frame_sizes[static_cast<size_t>(i)] : 0,
                   reason.substr(sizeof("SEND_RESULT_") - 1).c_str(),
                   outcome.detail().empty() ? "" : ": ", outcome.detail().c_str());
    }
  }
  return kExitOk;
}

// Top speed over StreamSendFrames: the messages are built before the clock starts (as
// tcpreplay --preload-pcap reads the file first), moving the bytes out of `frames`; a
// file that fits one message is repeated by the daemon.
void WriteTopSpeed(const SendArgs& args, std::vector<FileFrame>& frames,
                   grpc::ClientWriter<v1::SendFramesRequest>& writer,
                   const InterruptWatcher& interrupt, bool* stream_ok) {
  const auto chunks = Chunks(frames, args.bounds);
  uint32_t repeat = 1;
  if (chunks.size() == 1) {
    repeat = static_cast<uint32_t>(std::max<uint64_t>(
        1, std::min<uint64_t>(args.loop, kMaxRepeatedFramesPerMessage / frames.size())));
  }
  std::vector<v1::SendFramesRequest> messages(chunks.size(), BaseRequest(args, Timing::kTopSpeed));
  for (size_t c = 0; c < chunks.size(); ++c) {
    for (size_t i = chunks[c].first; i < chunks[c].first + chunks[c].second; ++i) {
      messages[c].add_frames(std::move(frames[i].data));
    }
  }
  // The daemon stops at --limit and --duration itself; the client stops writing there too,
  // rather than stream loops the daemon would only skip.
  uint64_t written = 0;  // frames, repeats counted
  const auto start = Clock::now();
  const auto duration = std::chrono::duration<double>(args.duration_seconds);
  for (uint32_t loop = 0; loop < args.loop && *stream_ok;) {
    for (v1::SendFramesRequest& message : messages) {
      if (!*stream_ok || interrupt.interrupted() || (args.limit > 0 && written >= args.limit) ||
          (args.duration_seconds > 0 && Clock::now() - start >= duration)) {
        return;
      }
      message.set_repeat(repeat);
      *stream_ok = writer.Write(message);
      written += static_cast<uint64_t>(message.frames_size()) * repeat;
    }
    loop += repeat;
    repeat = std::min(repeat, args.loop - loop > 0 ? args.loop - loop : 1);
  }
}

// Timed (a rate or the recorded timing) over StreamSendFrames: frame after frame of every
// loop, each message at most kMessageSpanNs of the timeline, written no more than
// kLookAheadNs before its first frame is due. The due times are the daemon's own
// (capture::SendTimeline); recorded frames carry their offsets, loops continue the
// timeline (capture::RepeatPeriod), and the daemon injects each frame on time.
void WriteTimed(const SendArgs& args, Timing timing, const std::vector<FileFrame>& frames,
                grpc::ClientWriter<v1::SendFramesRequest>& writer,
                const InterruptWatcher& interrupt, bool* stream_ok) {
  const v1::SendFramesRequest base = BaseRequest(args, timing);
  capture::SendPacing pacing{.frames_per_second = args.pps,
                             .megabits_per_second = args.mbps,
                             .recorded = timing == Timing::kRecorded,
                             .multiplier = args.multiplier > 0 ? args.multiplier : 1};
  capture::SendTimeline timeline(pacing);
  // Recorded offsets from the first frame, never going back (a capture may hold frames
  // out of order; they keep the file's order and go as soon as their turn comes).
  std::vector<int64_t> recorded(frames.size(), 0);
  for (size_t i = 1; i < frames.size(); ++i) {
    recorded[i] = std::max(recorded[i - 1], frames[i].timestamp_ns - frames.front().timestamp_ns);
  }
  const int64_t period = capture::RepeatPeriod(recorded);
  const int64_t duration_ns = args.duration_seconds > 0
                                  ? static_cast<int64_t>(args.duration_seconds * 1e9)
                                  : std::numeric_limits<int64_t>::max();
  const uint64_t total = static_cast<uint64_t>(args.loop) * frames.size();
  const uint64_t last = args.limit > 0 ? std::min(total, args.limit) : total;
  const auto start = Clock::now();
  v1::SendFramesRequest message = base;
  int64_t message_first_due = 0;
  size_t message_bytes = 0;
  auto write = [&] {
    // Not before its first frame is within the look-ahead; Ctrl-C is seen within 100 ms.
    while (!interrupt.interrupted()) {
      const int64_t elapsed =
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
      const int64_t early = message_first_due - kLookAheadNs - elapsed;
      if (early <= 0) break;
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(early, 100'000'000)));
    }
    if (interrupt.interrupted()) return false;
    *stream_ok = writer.Write(message);
    message = base;
    message_bytes = 0;
    return *stream_ok;
  };
  for (uint64_t k = 0; k < last; ++k) {
    const size_t i = static_cast<size_t>(k % frames.size());
    const uint64_t round = k / frames.size();
    const int64_t offset = recorded[i] + static_cast<int64_t>(round) * period;
    const int64_t due = timeline.Next(frames[i].data.size(), offset);
    if (due > duration_ns) break;  // the daemon would skip it
    const bool full = message.frames_size() > 0 &&
                      (static_cast<size_t>(message.frames_size()) == args.bounds.frames ||
                       message_bytes + frames[i].data.size() > args.bounds.bytes ||
                       due - message_first_due > kMessageSpanNs);
    if (full && !write()) return;
    if (message.frames_size() == 0) message_first_due = due;
    message.add_frames(frames[i].data);
    message_bytes += frames[i].data.size();
    if (timing == Timing::kRecorded) message.add_offsets_ns(offset);
  }
  if (message.frames_size() > 0) write();
}

// One StreamSendFrames call; `write` writes its messages (and stops at an interrupt).
int SendStreamed(PktPoolClient& client, const SendArgs& args, InterruptWatcher& interrupt,
                 SendTotals* totals,
                 absl::FunctionRef<void(grpc::ClientWriter<v1::SendFramesRequest>&, bool*)> write) {
  grpc::ClientContext context;
  auto writer = client.StreamSend(&context, &totals->response);
  interrupt.OnInterrupt([] {});  // noticed between messages; the stream ends in order
  const auto start = Clock::now();
  bool stream_ok = true;
  write(*writer, &stream_ok);
  totals->interrupted = interrupt.interrupted();
  if (stream_ok) writer->WritesDone();
  grpc::Status status = writer->Finish();
  totals->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!status.ok()) {
    std::fprintf(stderr, "pktpoolctl: the daemon ended the stream; frames sent before that "
                         "are not counted here: see pktpoolctl stats %s\n",
                 args.interface.c_str());
    return ReportRefused(status);
  }
  return kExitOk;
}

// A pcap file at top speed, streamed as record blobs while it is read: the first message
// leaves as soon as it is read, so reading the file and sending overlap (the messages are
// kept for --loop, as tcpreplay --preload-pcap keeps the file). `first` holds the first
// message's records (`first_count` frames), `second` the next (0 frames: the file fits
// one message, which the daemon repeats). A damaged file stops the send at the damage:
// *damage says where.
void WriteTopSpeedRecords(const SendArgs& args, PcapRecordReader& reader, std::string first,
                          size_t first_count, std::string second, size_t second_count,
                          grpc::ClientWriter<v1::SendFramesRequest>& writer,
                          const InterruptWatcher& interrupt, bool* stream_ok,
                          absl::Status* damage) {
  const v1::SendFramesRequest base = BaseRequest(args, Timing::kTopSpeed);
  uint64_t written = 0;  // frames, repeats counted
  const auto start = Clock::now();
  const auto duration = std::chrono::duration<double>(args.duration_seconds);
  auto done = [&] {
    return !*stream_ok || interrupt.interrupted() || (args.limit > 0 && written >= args.limit) ||
           (args.duration_seconds > 0 && Clock::now() - start >= duration);
  };
  auto write = [&](v1::SendFramesRequest& message, size_t frames, uint32_t repeat) {
    message.set_repeat(repeat);
    *stream_ok = writer.Write(message);
    written += static_cast<uint64_t>(frames) * repeat;
  };
  if (second_count == 0) {  // one message: the daemon repeats it
    v1::SendFramesRequest message = base;
    *message.mutable_pcap_records() = std::move(first);
    const uint32_t most = static_cast<uint32_t>(std::max<uint64_t>(
        1, std::min<uint64_t>(args.loop, kMaxRepeatedFramesPerMessage / first_count)));
    for (uint32_t loop = 0; loop < args.loop && !done();) {
      const uint32_t repeat = std::min(most, args.loop - loop);
      write(message, first_count, repeat);
      loop += repeat;
    }
    return;
  }
  struct Kept {
    v1::SendFramesRequest message;
    size_t frames;
  };
  std::vector<Kept> kept;
  const bool keep = args.loop > 1;
  auto send = [&](std::string records, size_t frames) {
    Kept next{base, frames};
    *next.message.mutable_pcap_records() = std::move(records);
    write(next.message, frames, 1);
    if (keep) kept.push_back(std::move(next));
  };
  send(std::move(first), first_count);
  if (done()) return;
  send(std::move(second), second_count);
  while (!done()) {
    std::string records;
    absl::StatusOr<size_t> count =
        reader.Next(&records, args.bounds.frames, args.bounds.bytes);
    if (!count.ok()) {
      *damage = count.status();
      return;
    }
    if (*count == 0) break;
    send(std::move(records), *count);
  }
  for (uint32_t loop = 1; loop < args.loop; ++loop) {
    for (Kept& message : kept) {
      if (done()) return;
      write(message.message, message.frames, 1);
    }
  }
}

double Seconds(const google::protobuf::Duration& duration) {
  return static_cast<double>(TimeUtil::DurationToNanoseconds(duration)) / 1e9;
}
double Micros(const google::protobuf::Duration& duration) {
  return static_cast<double>(TimeUtil::DurationToNanoseconds(duration)) / 1e3;
}

// The summary: tcpreplay's Actual:/Rated: lines, then the timing, failures and skips.
void PrintSummary(const SendArgs& args, const SendTotals& t, bool json) {
  const v1::SendFramesResponse& r = t.response;
  const double span =
      r.frames_sent() > 0
          ? static_cast<double>(TimeUtil::DurationToNanoseconds(r.last_sent() - r.first_sent())) / 1e9
          : 0;
  const double client_rate = t.seconds > 0 ? static_cast<double>(r.frames_sent()) / t.seconds : 0;
  if (json) {
    std::string timing = absl::StrFormat(
        "{\"first_sent\": %s, \"last_sent\": %s, \"span_seconds\": %.9f, "
        "\"frames_per_second\": %.3f, \"bits_per_second\": %.1f, \"timed\": %s",
        JsonQuote(r.frames_sent() > 0 ? TimeUtil::ToString(r.first_sent()) : ""),
        JsonQuote(r.frames_sent() > 0 ? TimeUtil::ToString(r.last_sent()) : ""), span,
        r.frames_per_second(), r.bits_per_second(), r.timed() ? "true" : "false");
    if (r.timed()) {
      absl::StrAppendFormat(&timing,
                            ", \"frames_late\": %d, \"late_threshold_us\": %.3f, "
                            "\"lateness_p50_us\": %.3f, \"lateness_p99_us\": %.3f, "
                            "\"lateness_max_us\": %.3f, \"schedule_slip_us\": %.3f",
                            r.frames_late(), Micros(r.late_threshold()), Micros(r.lateness_p50()),
                            Micros(r.lateness_p99()), Micros(r.lateness_max()),
                            Micros(r.schedule_slip()));
    }
    timing += "}";
    std::printf(
        "{\"interface\": %s, \"frames_sent\": %lu, \"frames_failed\": %lu, \"frames_skipped\": "
        "%lu, \"bytes_sent\": %lu, \"seconds\": %.6f, \"frames_per_second\": %.1f, "
        "\"interrupted\": %s, \"timing\": %s}\n",
        JsonQuote(args.interface).c_str(), static_cast<unsigned long>(r.frames_sent()),
        static_cast<unsigned long>(r.frames_failed()),
        static_cast<unsigned long>(r.frames_skipped()),
        static_cast<unsigned long>(r.bytes_sent()), t.seconds, client_rate,
        t.interrupted ? "true" : "false", timing.c_str());
    return;
  }
  std::printf("Actual: %lu frames (%lu bytes) sent in %.6f seconds%s\n",
              static_cast<unsigned long>(r.frames_sent()),
              static_cast<unsigned long>(r.bytes_sent()), span,
              t.interrupted ? " (interrupted)" : "");
  if (r.frames_sent() > 1 && span > 0) {
    std::printf("Rated: %.1f Bps, %.3f Mbps, %.2f fps\n", r.bits_per_second() / 8,
                r.bits_per_second() / 1e6, r.frames_per_second());
  }
  if (r.timed() && r.frames_sent() > 0) {
    std::printf("Timing: %lu frames late by over %.0f us; lateness p50 %.1f us, p99 %.1f us, "
                "max %.1f us",
                static_cast<unsigned long>(r.frames_late()), Micros(r.late_threshold()),
                Micros(r.lateness_p50()), Micros(r.lateness_p99()), Micros(r.lateness_max()));
    if (r.schedule_slip().seconds() != 0 || r.schedule_slip().nanos() != 0) {
      std::printf("; the timeline slipped %.6f s (--max-burst)", Seconds(r.schedule_slip()));
    }
    std::printf("\n");
  }
  if (r.frames_failed() > 0) {
    std::printf("Failed: %lu frames; by reason: pktpoolctl stats %s\n",
                static_cast<unsigned long>(r.frames_failed()), args.interface.c_str());
  }
  if (r.frames_skipped() > 0) {
    std::printf("Skipped: %lu frames (--limit or --duration reached)\n",
                static_cast<unsigned long>(r.frames_skipped()));
  }
}

// send --pcap FILE --topspeed (no --hex or --file frames): the file as record blobs.
int RunSendRecords(SendArgs args, const GlobalOptions& options) {
  absl::StatusOr<PcapRecordReader> reader;
  std::string first, second;
  absl::StatusOr<size_t> first_count, second_count;
  // The first two messages: an empty or unreadable file is a usage error, and a file that
  // fits one message goes as one SendFrames call.
  auto read_first_two = [&]() -> absl::Status {
    reader = PcapRecordReader::Open(args.pcap_file);
    if (!reader.ok()) return reader.status();
    first_count = reader->Next(&first, args.bounds.frames, args.bounds.bytes);
    if (!first_count.ok()) return first_count.status();
    if (*first_count == 0) {
      return absl::InvalidArgumentError(absl::StrCat(args.pcap_file, " holds no frames"));
    }
    second_count = reader->Next(&second, args.bounds.frames, args.bounds.bytes);
    return second_count.status();
  };
  // Read before connecting (a bad file is reported without a daemon), and again in
  // smaller messages if the daemon's limits ask for them.
  if (absl::Status read = read_first_two(); !read.ok()) return ReportUsage(read);
  InterruptWatcher interrupt;  // before the channel's threads start
  int code = kExitOk;
  auto client = ConnectOrReport(options, &code);
  if (!client) return code;
  if (const MessageBounds bounds = AskBounds(*client);
      bounds.frames < args.bounds.frames || bounds.bytes < args.bounds.bytes) {
    args.bounds = bounds;
    first.clear();
    second.clear();
    if (absl::Status read = read_first_two(); !read.ok()) return ReportUsage(read);
  }
  SendTotals totals;
  absl::Status damage;
  if (*second_count == 0 && *first_count * args.loop <= kMaxRepeatedFramesPerMessage) {
    // One SendFrames, with per-frame outcomes.
    std::vector<size_t> sizes;
    (void)records::ForEachRecord(first, [&](const records::RecordView& record) {
      sizes.push_back(record.data.size());
    });
    v1::SendFramesRequest request = BaseRequest(args, Timing::kTopSpeed);
    *request.mutable_pcap_records() = std::move(first);
    request.set_repeat(args.loop);
    code = SendUnary(*client, request, sizes, options, &totals);
  } else {
    code = SendStreamed(*client, args, interrupt, &totals, [&](auto& writer, bool* stream_ok) {
      WriteTopSpeedRecords(args, *reader, std::move(first), *first_count, std::move(second),
                           *second_count, writer, interrupt, stream_ok, &damage);
    });
  }
  if (code != kExitOk) return code;
  PrintSummary(args, totals, options.json);
  if (!damage.ok()) {
    std::fprintf(stderr, "pktpoolctl: %s; the frames before it were sent\n",
                 std::string(damage.message()).c_str());
    return kExitUsage;
  }
  return totals.response.frames_failed() == 0 ? kExitOk : kExitRefused;
}

int RunSend(SendArgs args, const GlobalOptions& options) {
  if (args.hex.empty() && args.raw_files.empty() && args.pcap_file.empty()) {
    return ReportUsage(absl::InvalidArgumentError(
        "send needs frames: --hex HEX, --file RAW_FRAME or --pcap FILE (see send --help)"));
  }
  if (absl::Status valid = CheckTimingOptions(args); !valid.ok()) return ReportUsage(valid);
  const Timing timing = TimingOf(args);
  if (timing == Timing::kTopSpeed && !args.pcap_file.empty() && args.hex.empty() &&
      args.raw_files.empty()) {
    return RunSendRecords(args, options);
  }
  auto frames = LoadFrames(args);
  if (!frames.ok()) return ReportUsage(frames.status());
  InterruptWatcher interrupt;  // before the channel's threads start
  int code = kExitOk;
  auto client = ConnectOrReport(options, &code);
  if (!client) return code;
  args.bounds = AskBounds(*client);
  SendTotals totals;
  // One SendFrames (with per-frame outcomes) when everything fits one unpaced message.
  const bool one_message = timing == Timing::kTopSpeed && Chunks(*frames, args.bounds).size() == 1 &&
                           frames->size() * args.loop <= kMaxRepeatedFramesPerMessage;
  if (one_message) {
    v1::SendFramesRequest request = BaseRequest(args, Timing::kTopSpeed);
    std::vector<size_t> sizes;
    for (const auto& frame : *frames) {
      request.add_frames(frame.data);
      sizes.push_back(frame.data.size());
    }
    request.set_repeat(args.loop);
    code = SendUnary(*client, request, sizes, options, &totals);
  } else {
    code = SendStreamed(*client, args, interrupt, &totals, [&](auto& writer, bool* stream_ok) {
      if (timing == Timing::kTopSpeed) {
        WriteTopSpeed(args, *frames, writer, interrupt, stream_ok);
      } else {
        WriteTimed(args, timing, *frames, writer, interrupt, stream_ok);
      }
    });
  }
  if (code != kExitOk) return code;
  PrintSummary(args, totals, options.json);
  return totals.response.frames_failed() == 0 ? kExitOk : kExitRefused;
}

}  // namespace

void AddSendCommand(CLI::App& app, CommandRun* run) {
  auto args = std::make_shared<SendArgs>();
  auto* send =
      app.add_subcommand("send", "send frames: hex, raw files or a pcap file (like tcpreplay)")
          ->footer(
              "examples:\n"
              "  pktpoolctl send veth0 --hex 02000000000202000000000188b5"
              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021\n"
              "  pktpoolctl send veth0 --pcap trace.pcap              # recorded timing\n"
              "  pktpoolctl send veth0 --pcap trace.pcap -x 2         # twice as fast\n"
              "  pktpoolctl send veth0 --pcap trace.pcap --topspeed --loop 10\n"
              "  pktpoolctl send veth0 --pcap trace.pcap --pps 1000 --limit 5000\n"
              "  pktpoolctl send veth0 --pcap trace.pcap --mbps 100 --duration 10\n"
              "frames go in order. Without --pps, --mbps or --topspeed a pcap file keeps its\n"
              "recorded timing (ns resolution; --multiplier scales it); hex and raw frames go\n"
              "at top speed. pktpoold keeps the time on an absolute timeline: a late frame\n"
              "does not delay the ones after it, and --loop continues the timeline. --mbps\n"
              "counts frame bytes only (no preamble, gap or FCS), as tcpreplay does.\n"
              "Exit 1 when any frame failed, 2 for a usage error.");
  send->add_option("interface", args->interface, "bound interface to send on")->required();
  send->add_option("--hex", args->hex, "a frame as hex digits (repeatable; ':' allowed)")
      ->allow_extra_args(false);
  send->add_option("--file", args->raw_files, "a file holding one raw frame (repeatable)")
      ->allow_extra_args(false);
  send->add_option("--pcap", args->pcap_file, "a pcap or pcapng file of Ethernet frames");
  send->add_option("-l,--loop", args->loop, "send everything this many times (default 1)")
      ->check(CLI::PositiveNumber);
  send->add_option("-p,--pps", args->pps, "frames per second")->check(CLI::PositiveNumber);
  send->add_option("-M,--mbps", args->mbps, "megabits per second (frame bytes only)")
      ->check(CLI::PositiveNumber);
  send->add_option("-x,--multiplier", args->multiplier,
                   "speed factor on the pcap's recorded timing (2: twice as fast)")
      ->check(CLI::PositiveNumber);
  send->add_flag("-t,--topspeed", args->topspeed, "as fast as possible");
  send->add_option("-L,--limit", args->limit, "send at most this many frames (loops counted)")
      ->check(CLI::PositiveNumber);
  send->add_option("--duration", args->duration_seconds,
                   "stop after this many seconds (timed: frames due later are not sent)")
      ->check(CLI::PositiveNumber);
  send->add_option("--max-burst", args->max_burst,
                   "when behind schedule, at most this many frames back to back; then the "
                   "timeline moves (default: no bound)")
      ->check(CLI::PositiveNumber);
  send->add_option("--wait", args->wait_seconds,
                   "seconds a frame may wait for tx descriptors (default 0: fail at once)")
      ->check(CLI::NonNegativeNumber);
  send->callback([run, args] {
    *run = [args](const GlobalOptions& options) { return RunSend(*args, options); };
  });
}

}  // namespace pktpool::ctl
