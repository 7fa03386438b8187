// send: frames from hex, raw files or a pcap file, replayed like tcpreplay (--loop,
// --pps, --topspeed, or the file's own timing), with a summary.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/pktpoolctl/commands.h"
#include "client/pktpoolctl/frame_text.h"
#include "client/pktpoolctl/interrupt.h"
#include "client/pktpoolctl/output.h"
#include "client/pktpoolctl/pcap_file.h"

namespace pktpool::ctl {
namespace {

using Clock = std::chrono::steady_clock;

// Messages stay well under the daemon's default limits (4096 frames, 16 MiB).
constexpr size_t kMaxFramesPerMessage = 1024;
constexpr size_t kMaxBytesPerMessage = 4 << 20;
// A looped batch is repeated by the daemon up to this many frames per message.
constexpr uint64_t kMaxRepeatedFramesPerMessage = 65536;
// Recorded timing: frames due within this much of each other go in one message.
constexpr auto kTimingSlack = std::chrono::milliseconds(1);

struct SendArgs {
  std::string interface;
  std::vector<std::string> hex;
  std::vector<std::string> raw_files;
  std::string pcap_file;
  uint32_t loop = 1;
  double pps = 0;
  bool topspeed = false;
  double wait_seconds = 0;
};

enum class Timing { kTopSpeed, kPaced, kRecorded };

// What was sent, for the summary.
struct SendTotals {
  uint64_t sent = 0;
  uint64_t failed = 0;
  uint64_t bytes_attempted = 0;
  double seconds = 0;
  bool interrupted = false;
};

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

size_t MessageFrames(Timing timing, double pps) {
  if (timing != Timing::kPaced) return kMaxFramesPerMessage;
  return std::clamp<size_t>(static_cast<size_t>(pps), 1, kMaxFramesPerMessage);
}

void SetWait(double seconds, v1::SendFramesRequest* request) {
  if (seconds <= 0) return;
  request->mutable_wait_for_resources()->set_seconds(static_cast<int64_t>(seconds));
  request->mutable_wait_for_resources()->set_nanos(
      static_cast<int32_t>((seconds - static_cast<int64_t>(seconds)) * 1e9));
}

// Splits frames [0, n) into message-sized runs of at most `max_frames`: {first, count}.
std::vector<std::pair<size_t, size_t>> Chunks(const std::vector<FileFrame>& frames,
                                              size_t max_frames) {
  std::vector<std::pair<size_t, size_t>> chunks;
  size_t first = 0, bytes = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const size_t count = i - first;
    if (count > 0 && (count == max_frames ||
                      bytes + frames[i].data.size() > kMaxBytesPerMessage)) {
      chunks.emplace_back(first, count);
      first = i;
      bytes = 0;
    }
    bytes += frames[i].data.size();
  }
  chunks.emplace_back(first, frames.size() - first);
  return chunks;
}

// One SendFrames call: the batch fits one message; per-frame outcomes are printed.
int SendUnary(PktPoolClient& client, const SendArgs& args, const std::vector<FileFrame>& frames,
              const GlobalOptions& options, SendTotals* totals) {
  v1::SendFramesRequest request;
  request.set_interface(args.interface);
  for (const auto& frame : frames) request.add_frames(frame.data);
  request.set_repeat(args.loop);
  request.set_frames_per_second(args.pps);
  SetWait(args.wait_seconds, &request);
  v1::SendFramesResponse response;
  const auto start = Clock::now();
  grpc::Status status = client.Send(request, &response);
  totals->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!status.ok()) return ReportRefused(status);
  totals->sent = response.frames_sent();
  totals->failed = response.frames_failed();
  if (!options.json) {
    for (int i = 0; i < response.outcomes_size(); ++i) {
      const auto& outcome = response.outcomes(i);
      if (outcome.result() == v1::SEND_RESULT_SENT) continue;
      std::string reason = v1::SendResult_Name(outcome.result());
      std::fprintf(stderr, "pktpoolctl: frame %d (%zu bytes): %s%s%s\n", i + 1,
                   frames[static_cast<size_t>(i)].data.size(),
                   reason.substr(sizeof("SEND_RESULT_") - 1).c_str(),
                   outcome.detail().empty() ? "" : ": ", outcome.detail().c_str());
    }
  }
  return kExitOk;
}

// StreamSendFrames: many messages, in order; Ctrl-C stops between messages.
// Moves the frames of `chunks` into one request each (the file's bytes are not copied).
std::vector<v1::SendFramesRequest> BuildMessages(
    const SendArgs& args, Timing timing, const std::vector<std::pair<size_t, size_t>>& chunks,
    std::vector<FileFrame>* frames) {
  std::vector<v1::SendFramesRequest> messages(chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    v1::SendFramesRequest& request = messages[c];
    request.set_interface(args.interface);
    for (size_t i = chunks[c].first; i < chunks[c].first + chunks[c].second; ++i) {
      request.add_frames(std::move((*frames)[i].data));
    }
    if (timing == Timing::kPaced) request.set_frames_per_second(args.pps);
    SetWait(args.wait_seconds, &request);
  }
  return messages;
}

// StreamSendFrames: many messages, in order; Ctrl-C stops between messages. Unless the
// timing is recorded, the messages are built before the clock starts (as tcpreplay
// --preload-pcap reads the file first), moving the bytes out of `frames`.
int SendStreamed(PktPoolClient& client, const SendArgs& args, std::vector<FileFrame>& frames,
                 Timing timing, InterruptWatcher& interrupt, SendTotals* totals) {
  grpc::ClientContext context;
  v1::SendFramesResponse response;
  auto writer = client.StreamSend(&context, &response);
  interrupt.OnInterrupt([] {});  // noticed between messages; the stream ends in order
  // Paced messages carry about a second of frames, so Ctrl-C stops within a second.
  const auto chunks = Chunks(frames, MessageFrames(timing, args.pps));
  // A file that fits one message is repeated by the daemon (it keeps the batch, as
  // tcpreplay --preload-pcap keeps the file in memory).
  uint32_t repeat = 1;
  if (chunks.size() == 1 && timing == Timing::kTopSpeed) {
    repeat = static_cast<uint32_t>(std::max<uint64_t>(
        1, std::min<uint64_t>(args.loop, kMaxRepeatedFramesPerMessage / frames.size())));
  }
  const int64_t file_span_ns = frames.back().timestamp_ns - frames.front().timestamp_ns;
  std::vector<v1::SendFramesRequest> messages;
  if (timing != Timing::kRecorded) messages = BuildMessages(args, timing, chunks, &frames);
  const auto start = Clock::now();
  bool stream_ok = true;
  auto write = [&](size_t first, size_t count) {  // recorded timing: built as it goes
    v1::SendFramesRequest request;
    request.set_interface(args.interface);
    for (size_t i = first; i < first + count; ++i) request.add_frames(frames[i].data);
    SetWait(args.wait_seconds, &request);
    return writer->Write(request);
  };
  for (uint32_t loop = 0; loop < args.loop && stream_ok && !interrupt.interrupted();) {
    if (timing == Timing::kRecorded) {
      // Frame i is due at start + (its time - the first frame's time) + loop * span.
      size_t i = 0;
      while (i < frames.size() && stream_ok && !interrupt.interrupted()) {
        auto due = [&](size_t k) {
          return start + std::chrono::nanoseconds(frames[k].timestamp_ns -
                                                  frames.front().timestamp_ns +
                                                  static_cast<int64_t>(loop) * file_span_ns);
        };
        std::this_thread::sleep_until(std::min(due(i), Clock::now() + std::chrono::seconds(1)));
        if (Clock::now() < due(i)) continue;  // a long gap: wait in steps, Ctrl-C works
        size_t count = 0, bytes = 0;
        while (i + count < frames.size() && count < kMaxFramesPerMessage &&
               bytes + frames[i + count].data.size() <= kMaxBytesPerMessage &&
               due(i + count) <= Clock::now() + kTimingSlack) {
          bytes += frames[i + count].data.size();
          ++count;
        }
        if (count == 0) count = 1;
        stream_ok = write(i, count);
        i += count;
      }
      ++loop;
      continue;
    }
    for (v1::SendFramesRequest& message : messages) {
      if (!stream_ok || interrupt.interrupted()) break;
      message.set_repeat(repeat);
      stream_ok = writer->Write(message);
    }
    loop += repeat;
    repeat = std::min(repeat, args.loop - loop > 0 ? args.loop - loop : 1);
  }
  totals->interrupted = interrupt.interrupted();
  if (stream_ok) writer->WritesDone();
  grpc::Status status = writer->Finish();
  totals->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  totals->sent = response.frames_sent();
  totals->failed = response.frames_failed();
  if (!status.ok()) {
    std::fprintf(stderr, "pktpoolctl: sent %lu frames before the daemon ended the stream\n",
                 static_cast<unsigned long>(totals->sent));
    return ReportRefused(status);
  }
  return kExitOk;
}

void PrintSummary(const SendArgs& args, const SendTotals& t, bool json) {
  const double rate = t.seconds > 0 ? static_cast<double>(t.sent) / t.seconds : 0;
  const double mbits = t.seconds > 0 && t.failed == 0
                           ? static_cast<double>(t.bytes_attempted) * 8 / t.seconds / 1e6
                           : 0;
  if (json) {
    std::printf(
        "{\"interface\": %s, \"frames_sent\": %lu, \"frames_failed\": %lu, \"seconds\": %.6f, "
        "\"frames_per_second\": %.1f, \"interrupted\": %s}\n",
        JsonQuote(args.interface).c_str(), static_cast<unsigned long>(t.sent),
        static_cast<unsigned long>(t.failed), t.seconds, rate, t.interrupted ? "true" : "false");
    return;
  }
  std::string line = absl::StrFormat("sent %lu frames, failed %lu, in %.3f s: %.0f frames/s",
                                     static_cast<unsigned long>(t.sent),
                                     static_cast<unsigned long>(t.failed), t.seconds, rate);
  if (mbits > 0) absl::StrAppendFormat(&line, ", %.1f Mbit/s", mbits);
  if (t.interrupted) line += " (interrupted)";
  if (t.failed > 0) line += "; failures by reason: pktpoolctl stats " + args.interface;
  std::printf("%s\n", line.c_str());
}

int RunSend(const SendArgs& args, const GlobalOptions& options) {
  if (args.hex.empty() && args.raw_files.empty() && args.pcap_file.empty()) {
    return ReportUsage(absl::InvalidArgumentError(
        "send needs frames: --hex HEX, --file RAW_FRAME or --pcap FILE (see send --help)"));
  }
  if (args.topspeed && args.pps > 0) {
    return ReportUsage(absl::InvalidArgumentError("--pps and --topspeed exclude each other"));
  }
  auto frames = LoadFrames(args);
  if (!frames.ok()) return ReportUsage(frames.status());
  // tcpreplay's default: a pcap file keeps its recorded timing.
  Timing timing = Timing::kTopSpeed;
  if (args.pps > 0) timing = Timing::kPaced;
  if (!args.pcap_file.empty() && args.pps == 0 && !args.topspeed) timing = Timing::kRecorded;
  InterruptWatcher interrupt;  // before the channel's threads start
  int code = kExitOk;
  auto client = ConnectOrReport(options, &code);
  if (!client) return code;
  SendTotals totals;
  // One SendFrames (with per-frame outcomes) when everything fits one unpaced message.
  const bool one_message = timing == Timing::kTopSpeed &&
                           Chunks(*frames, kMaxFramesPerMessage).size() == 1 &&
                           frames->size() * args.loop <= kMaxRepeatedFramesPerMessage;
  uint64_t bytes_per_loop = 0;
  for (const auto& frame : *frames) bytes_per_loop += frame.data.size();
  totals.bytes_attempted = bytes_per_loop * args.loop;
  code = one_message ? SendUnary(*client, args, *frames, options, &totals)
                     : SendStreamed(*client, args, *frames, timing, interrupt, &totals);
  if (code != kExitOk) return code;
  PrintSummary(args, totals, options.json);
  return totals.failed == 0 ? kExitOk : kExitRefused;
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
              "  pktpoolctl send veth0 --pcap trace.pcap --topspeed --loop 10\n"
              "  pktpoolctl send veth0 --pcap trace.pcap --pps 1000\n"
              "frames go in order; without --pps or --topspeed a pcap file keeps its timing "
              "(1 ms\nresolution), hex and raw frames go at top speed. Exit 1 when any frame "
              "failed.");
  send->add_option("interface", args->interface, "bound interface to send on")->required();
  send->add_option("--hex", args->hex, "a frame as hex digits (repeatable; ':' allowed)")
      ->allow_extra_args(false);
  send->add_option("--file", args->raw_files, "a file holding one raw frame (repeatable)")
      ->allow_extra_args(false);
  send->add_option("--pcap", args->pcap_file, "a pcap or pcapng file of Ethernet frames");
  send->add_option("--loop", args->loop, "send everything this many times (default 1)")
      ->check(CLI::PositiveNumber);
  send->add_option("--pps", args->pps, "frames per second")->check(CLI::PositiveNumber);
  send->add_flag("--topspeed,-t", args->topspeed, "as fast as possible");
  send->add_option("--wait", args->wait_seconds,
                   "seconds a frame may wait for tx descriptors (default 0: fail at once)")
      ->check(CLI::NonNegativeNumber);
  send->callback([run, args] {
    *run = [args](const GlobalOptions& options) { return RunSend(*args, options); };
  });
}

}  // namespace pktpool::ctl
