// capture: frames received on a binding, like tcpdump: a trailing BPF expression, -c,
// -w FILE (pcap, or pcapng by extension or --format), a line per frame otherwise; at the
// end, every frame lost on the way, by reason, as tcpdump's "dropped by kernel" line.
#include <sys/utsname.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/capture_file/capture_file.h"
#include "proto/pcap_records.h"
#include "client/pktpoolctl/capture_session.h"
#include "client/pktpoolctl/commands.h"
#include "client/pktpoolctl/frame_text.h"
#include "client/pktpoolctl/interrupt.h"
#include "client/pktpoolctl/output.h"
#include "google/protobuf/util/time_util.h"

namespace pktpool::ctl {
namespace {

using google::protobuf::util::TimeUtil;

constexpr uint32_t kFileSnaplen = 262144;  // the file's snaplen when --snaplen is unset

struct CaptureArgs {
  std::string interface;
  uint64_t count = 0;
  std::string write_file;
  std::string format;  // "pcap", "pcapng", or empty: by the file's extension
  uint32_t snaplen = 0;
  uint32_t queue_frames = 0;
  std::vector<std::string> filter;
};

// "13:45:01.123456789 02:..:01 > 02:..:02, ethertype IPv4 (0x0800), length 98".
std::string FrameLine(const records::RecordView& frame) {
  const EthernetSummary eth = SummarizeEthernet(std::string(frame.data));
  std::string line = FormatTime(frame.timestamp_ns);
  if (eth.source.empty()) {
    absl::StrAppend(&line, " runt frame");
  } else {
    absl::StrAppendFormat(&line, " %s > %s, ethertype %s%s0x%04x%s", eth.source,
                          eth.destination, eth.protocol, eth.protocol.empty() ? "" : " (",
                          eth.ethertype, eth.protocol.empty() ? "" : ")");
  }
  absl::StrAppend(&line, ", length ", frame.wire_length);
  if (frame.data.size() < frame.wire_length) {
    absl::StrAppend(&line, " (captured ", frame.data.size(), ")");
  }
  return line;
}

std::string FrameJson(const records::RecordView& frame) {
  const EthernetSummary eth = SummarizeEthernet(std::string(frame.data));
  return absl::StrFormat(
      "{\"time\": \"%s\", \"wire_length\": %u, \"captured_length\": %u, \"source\": %s, "
      "\"destination\": %s, \"ethertype\": %u, \"protocol\": %s}",
      TimeUtil::ToString(TimeUtil::NanosecondsToTimestamp(frame.timestamp_ns)), frame.wire_length,
      static_cast<uint32_t>(frame.data.size()), JsonQuote(eth.source),
      JsonQuote(eth.destination), eth.ethertype, JsonQuote(eth.protocol));
}

// Frames pktpoold dropped for this stream (not the kernel's or the interface's).
uint64_t DaemonDrops(const v1::CaptureLoss& loss) {
  return loss.pool_empty() + loss.queue_full() + loss.stalled();
}

// "590325 frames captured to f.pcap, 409675 dropped by pktpoold (receive pool empty), 0
// dropped by the kernel": the closing line, as tcpdump's. `final`: the counts are the
// stream's last (StopCapture, or the count reached), not cut short by an error.
std::string ClosingLine(uint64_t captured, const std::string& file, const v1::CaptureLoss& loss,
                        bool final, bool count_reached) {
  std::string line = absl::StrCat(captured, " frames captured");
  if (!file.empty() && file != "-") absl::StrAppend(&line, " to ", file);
  absl::StrAppend(&line, ", ", DaemonDrops(loss), " dropped by pktpoold");
  std::vector<std::string> reasons;
  const bool several = (loss.pool_empty() > 0) + (loss.queue_full() > 0) + (loss.stalled() > 0) > 1;
  auto reason = [&](uint64_t n, const char* why) {
    if (n > 0) reasons.push_back(several ? absl::StrCat(n, " ", why) : why);
  };
  reason(loss.pool_empty(), "receive pool empty");
  reason(loss.queue_full(), "stream queue full");
  reason(loss.stalled(), "stalled reader");
  if (!reasons.empty()) absl::StrAppend(&line, " (", absl::StrJoin(reasons, ", "), ")");
  absl::StrAppend(&line, ", ", loss.kernel(), " dropped by the kernel");
  if (loss.interface() > 0) absl::StrAppend(&line, ", ", loss.interface(), " dropped by the interface");
  absl::StrAppend(&line, "; ", loss.received(), " received while capturing");
  if (loss.filtered() > 0) absl::StrAppend(&line, ", ", loss.filtered(), " not matching the filter");
  const uint64_t accounted = captured + loss.filtered() + DaemonDrops(loss) + loss.kernel();
  if (count_reached && loss.received() > accounted) {
    absl::StrAppend(&line, ", ", loss.received() - accounted, " after -c was reached");
  }
  if (!final) absl::StrAppend(&line, " (counts as of the last message: the stream was cut)");
  return line;
}

std::string SummaryJson(uint64_t captured, const v1::CaptureLoss& loss, bool final) {
  return absl::StrFormat(
      "{\"summary\": {\"captured\": %u, \"received\": %u, \"filtered\": %u, "
      "\"dropped\": {\"pool_empty\": %u, \"queue_full\": %u, \"stalled\": %u, "
      "\"kernel\": %u, \"interface\": %u}, \"dropped_by_pktpoold\": %u, \"final\": %s}}",
      captured, loss.received(), loss.filtered(), loss.pool_empty(), loss.queue_full(),
      loss.stalled(), loss.kernel(), loss.interface(), DaemonDrops(loss),
      final ? "true" : "false");
}

std::string OsName() {
  utsname name{};
  if (uname(&name) != 0) return "";
  return absl::StrCat(name.sysname, " ", name.release);
}

int RunCapture(const CaptureArgs& args, const GlobalOptions& options) {
  v1::CaptureRequest request;
  request.set_interface(args.interface);
  request.set_filter(absl::StrJoin(args.filter, " "));
  request.set_snaplen(args.snaplen);
  request.set_count(args.count);
  request.set_queue_frames(args.queue_frames);

  std::unique_ptr<capture_file::Writer> writer;
  if (!args.write_file.empty()) {
    auto format = capture_file::ChooseFormat(args.write_file, args.format);
    if (!format.ok()) return ReportUsage(format.status());
    const std::string where =
        options.endpoint.target.empty() ? options.endpoint.socket : options.endpoint.target;
    auto created = capture_file::Writer::Create(
        args.write_file, *format,
        {.name = args.interface,
         .description = absl::StrCat(args.interface, " through pktpoold at ", where),
         .filter = request.filter(),
         .snaplen = args.snaplen != 0 ? args.snaplen : kFileSnaplen,
         .os = OsName(),
         .application = "pktpoolctl"});
    if (!created.ok()) return ReportUsage(created.status());
    writer = std::move(*created);
  } else if (!args.format.empty()) {
    return ReportUsage(absl::InvalidArgumentError("--format needs -w FILE"));
  }
  std::signal(SIGPIPE, SIG_IGN);  // a reader of -w - that goes away ends the capture
  InterruptWatcher interrupt;  // before the channel's threads start
  int code = kExitOk;
  auto client = ConnectOrReport(options, &code);
  if (!client) return code;
  CaptureSession session(client.get(), request);
  interrupt.OnInterrupt([&session] { session.Stop(); });
  const int64_t start_ns = absl::GetCurrentTimeNanos();
  uint64_t frames = 0;
  absl::Status write_error;
  grpc::Status status = session.Run(
      [&] {
        if (!interrupt.interrupted()) {
          std::fprintf(stderr, "pktpoolctl: capturing on %s%s%s%s; Ctrl-C stops\n",
                       args.interface.c_str(), request.filter().empty() ? "" : ", filter '",
                       request.filter().c_str(), request.filter().empty() ? "" : "'");
        }
      },
      [&](std::string_view records, uint32_t) {
        if (writer) {
          auto written = writer->WriteRecords(records);
          if (written.ok()) write_error = writer->Flush();
          if (!written.ok()) write_error = written.status();
          if (!write_error.ok()) return false;
          frames += *written;
          return true;
        }
        absl::Status parsed = records::ForEachRecord(records, [&](const auto& frame) {
          std::printf("%s\n", (options.json ? FrameJson(frame) : FrameLine(frame)).c_str());
          ++frames;
        });
        std::fflush(stdout);
        if (!parsed.ok()) write_error = parsed;
        return parsed.ok();
      });
  interrupt.OnInterrupt({});  // waits for a Stop still running: the session may go now
  const v1::CaptureLoss& loss = session.loss();
  const bool final = session.final() || status.ok();
  const bool count_reached = args.count != 0 && frames >= args.count;
  if (writer) {
    const uint64_t daemon_drops = DaemonDrops(loss);
    absl::Status closed = writer->Close(
        {.start_ns = start_ns,
         .end_ns = absl::GetCurrentTimeNanos(),
         .received = loss.received() + loss.interface(),
         .interface_dropped = loss.interface(),
         .os_dropped = loss.kernel() + daemon_drops,
         .delivered = frames,
         .comment = absl::StrCat("pktpoold: ",
                                 ClosingLine(frames, "", loss, final, count_reached))});
    if (write_error.ok()) write_error = closed;
  }
  std::fprintf(stderr, "pktpoolctl: %s\n",
               ClosingLine(frames, args.write_file, loss, final, count_reached).c_str());
  if (options.json) {
    std::FILE* out = args.write_file == "-" ? stderr : stdout;
    std::fprintf(out, "%s\n", SummaryJson(frames, loss, final).c_str());
    std::fflush(out);
  }
  if (!write_error.ok()) {
    // The reader of the output went away (a pipe closed): the capture ends, as tcpdump's.
    std::fprintf(stderr, "pktpoolctl: %s\n", std::string(write_error.message()).c_str());
    return write_error.code() == absl::StatusCode::kUnavailable ? kExitOk : kExitRefused;
  }
  return StreamEnd(status, interrupt.interrupted());
}

}  // namespace

void AddCaptureCommand(CLI::App& app, CommandRun* run) {
  auto args = std::make_shared<CaptureArgs>();
  auto* capture =
      app.add_subcommand("capture", "print or save frames received on a binding (like tcpdump)")
          ->footer("examples:\n"
                   "  pktpoolctl capture veth0 -c 10\n"
                   "  pktpoolctl capture veth0 -w out.pcap udp port 53    # then tcpdump -r out.pcap\n"
                   "  pktpoolctl capture veth0 -w out.pcapng              # pcapng, with the drop counts\n"
                   "  pktpoolctl capture veth0 -w - | tcpdump -r -\n"
                   "  pktpoolctl -o json capture veth0 -c 5               # JSON Lines\n"
                   "ends after -c frames, at Ctrl-C (the daemon sends what it queued and the\n"
                   "final counts), or when the binding goes away (exit 1). The last line counts\n"
                   "every frame lost while capturing, by reason.");
  capture->add_option("interface", args->interface, "bound interface")->required();
  capture->add_option("-c,--count", args->count, "stop after this many frames");
  capture->add_option("-w,--write", args->write_file,
                      "write a capture file ('-': stdout): pcap, or pcapng for *.pcapng");
  capture->add_option("--format", args->format, "file format for -w: pcap or pcapng")
      ->check(CLI::IsMember({"pcap", "pcapng"}));
  capture->add_option("-s,--snaplen", args->snaplen, "bytes kept per frame (default: all)");
  capture->add_option("--queue", args->queue_frames,
                      "this stream's queue in the daemon, frames (default: the receive pool bounds it)");
  capture->add_option("filter", args->filter, "BPF expression (tcpdump syntax), e.g. udp port 53");
  capture->callback([run, args] {
    *run = [args](const GlobalOptions& options) { return RunCapture(*args, options); };
  });
}

}  // namespace pktpool::ctl
