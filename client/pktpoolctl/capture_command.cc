// capture: frames received on a binding, like tcpdump: a trailing BPF expression, -c,
// -w FILE.pcap, a line per frame otherwise.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/pktpoolctl/commands.h"
#include "client/pktpoolctl/frame_text.h"
#include "client/pktpoolctl/interrupt.h"
#include "client/pktpoolctl/output.h"
#include "client/pktpoolctl/pcap_file.h"
#include "google/protobuf/util/time_util.h"

namespace pktpool::ctl {
namespace {

using google::protobuf::util::TimeUtil;

constexpr uint32_t kFileSnaplen = 262144;  // pcap header snaplen when --snaplen is unset

struct CaptureArgs {
  std::string interface;
  uint64_t count = 0;
  std::string write_file;
  uint32_t snaplen = 0;
  uint32_t queue_frames = 0;
  std::vector<std::string> filter;
};

// "13:45:01.123456789 02:..:01 > 02:..:02, ethertype IPv4 (0x0800), length 98".
std::string FrameLine(const v1::CapturedFrame& frame) {
  const EthernetSummary eth = SummarizeEthernet(frame.data());
  std::string line = FormatTime(TimeUtil::TimestampToNanoseconds(frame.timestamp()));
  if (eth.source.empty()) {
    absl::StrAppend(&line, " runt frame");
  } else {
    absl::StrAppendFormat(&line, " %s > %s, ethertype %s%s0x%04x%s", eth.source,
                          eth.destination, eth.protocol, eth.protocol.empty() ? "" : " (",
                          eth.ethertype, eth.protocol.empty() ? "" : ")");
  }
  absl::StrAppend(&line, ", length ", frame.wire_length());
  if (frame.data().size() < frame.wire_length()) {
    absl::StrAppend(&line, " (captured ", frame.data().size(), ")");
  }
  return line;
}

std::string FrameJson(const v1::CapturedFrame& frame) {
  const EthernetSummary eth = SummarizeEthernet(frame.data());
  return absl::StrFormat(
      "{\"time\": \"%s\", \"wire_length\": %u, \"captured_length\": %u, \"source\": %s, "
      "\"destination\": %s, \"ethertype\": %u, \"protocol\": %s}",
      TimeUtil::ToString(frame.timestamp()), frame.wire_length(),
      static_cast<uint32_t>(frame.data().size()), JsonQuote(eth.source),
      JsonQuote(eth.destination), eth.ethertype, JsonQuote(eth.protocol));
}

int RunCapture(const CaptureArgs& args, const GlobalOptions& options) {
  std::unique_ptr<PcapWriter> writer;
  if (!args.write_file.empty()) {
    auto created =
        PcapWriter::Create(args.write_file, args.snaplen != 0 ? args.snaplen : kFileSnaplen);
    if (!created.ok()) return ReportUsage(created.status());
    writer = std::move(*created);
  }
  InterruptWatcher interrupt;  // before the channel's threads start
  int code = kExitOk;
  auto client = ConnectOrReport(options, &code);
  if (!client) return code;
  v1::CaptureRequest request;
  request.set_interface(args.interface);
  request.set_filter(absl::StrJoin(args.filter, " "));
  request.set_snaplen(args.snaplen);
  request.set_count(args.count);
  request.set_queue_frames(args.queue_frames);
  grpc::ClientContext context;
  auto reader = client->Capture(&context, request);
  interrupt.OnInterrupt([&context] { context.TryCancel(); });
  // Initial metadata comes once the daemon has subscribed: from here on nothing is missed.
  reader->WaitForInitialMetadata();
  if (!interrupt.interrupted()) {
    std::fprintf(stderr, "pktpoolctl: capturing on %s%s%s%s; Ctrl-C stops\n",
                 args.interface.c_str(), request.filter().empty() ? "" : ", filter '",
                 request.filter().c_str(), request.filter().empty() ? "" : "'");
  }
  v1::CaptureResponse response;
  uint64_t frames = 0, dropped = 0;
  const bool to_stdout_file = args.write_file == "-";
  while (reader->Read(&response)) {
    for (const auto& frame : response.frames()) {
      ++frames;
      if (writer) {
        writer->Write(TimeUtil::TimestampToNanoseconds(frame.timestamp()), frame.wire_length(),
                      frame.data());
      } else {
        std::printf("%s\n", (options.json ? FrameJson(frame) : FrameLine(frame)).c_str());
      }
    }
    dropped = response.dropped();
    if (writer) {
      writer->Flush();
    } else {
      std::fflush(stdout);
    }
  }
  grpc::Status status = reader->Finish();
  writer.reset();  // closes the file
  std::fprintf(stderr, "pktpoolctl: %lu frames captured%s, %lu dropped by this stream\n",
               static_cast<unsigned long>(frames),
               args.write_file.empty() || to_stdout_file
                   ? ""
                   : absl::StrCat(" to ", args.write_file).c_str(),
               static_cast<unsigned long>(dropped));
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
                   "  pktpoolctl capture veth0 -w - | tcpdump -r -\n"
                   "  pktpoolctl -o json capture veth0 -c 5               # JSON Lines\n"
                   "ends after -c frames, at Ctrl-C, or when the binding goes away (exit 1).");
  capture->add_option("interface", args->interface, "bound interface")->required();
  capture->add_option("-c,--count", args->count, "stop after this many frames");
  capture->add_option("-w,--write", args->write_file, "write a pcap file ('-': stdout)");
  capture->add_option("-s,--snaplen", args->snaplen, "bytes kept per frame (default: all)");
  capture->add_option("--queue", args->queue_frames,
                      "this stream's queue in the daemon, frames (default 4096)");
  capture->add_option("filter", args->filter, "BPF expression (tcpdump syntax), e.g. udp port 53");
  capture->callback([run, args] {
    *run = [args](const GlobalOptions& options) { return RunCapture(*args, options); };
  });
}

}  // namespace pktpool::ctl
