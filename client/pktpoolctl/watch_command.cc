// watch: a refreshing view of the stats stream (like top), with rates.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/pktpoolctl/commands.h"
#include "client/pktpoolctl/frame_text.h"
#include "client/pktpoolctl/interrupt.h"
#include "client/pktpoolctl/output.h"
#include "google/protobuf/util/time_util.h"

namespace pktpool::ctl {
namespace {

using google::protobuf::util::TimeUtil;

// Terminal control (ECMA-48 / xterm): the alternate screen keeps the user's scrollback
// as it was, as top does.
constexpr char kEnterScreen[] = "\x1b[?1049h\x1b[?25l";
constexpr char kLeaveScreen[] = "\x1b[?25h\x1b[?1049l";
constexpr char kHomeAndClear[] = "\x1b[H\x1b[2J";

struct WatchArgs {
  std::string interface;
  double interval_seconds = 1.0;
  uint64_t count = 0;
};

// Counters of the previous snapshot, to turn totals into rates.
struct Previous {
  int64_t time_ns = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> frames;  // binding -> rx, tx
  std::map<std::tuple<std::string, int, uint32_t>, uint64_t> allocations;  // pool gen
};

std::string Rate(uint64_t now, uint64_t before, double seconds, bool known) {
  if (!known || seconds <= 0 || now < before) return "-";
  return absl::StrFormat("%.0f", static_cast<double>(now - before) / seconds);
}

std::string Render(const v1::GetStatsResponse& stats, const WatchArgs& args, Previous* previous) {
  const int64_t now_ns = TimeUtil::TimestampToNanoseconds(stats.time());
  const double seconds = previous->time_ns == 0 ? 0 : (now_ns - previous->time_ns) / 1e9;
  std::string text = absl::StrFormat(
      "pktpoolctl watch: %d binding%s, every %.1f s, %s  (Ctrl-C quits)\n\n",
      stats.bindings_size(), stats.bindings_size() == 1 ? "" : "s", args.interval_seconds,
      FormatTime(now_ns).substr(0, 12));
  Table bindings({"BINDING", "STATE", "RX_FRAMES", "RX/S", "TX_FRAMES", "TX/S", "RX_DROPS",
                  "PCAP_DROP", "TX_QUEUE"});
  Table pools({"BINDING", "POOL", "TAG", "GEN", "DESCRIPTORS", "OVERFLOW", "IN_USE", "FREE",
               "HIGH_WM", "ALLOC/S", "FAILURES", "MEMORY", ""});
  Previous next;
  next.time_ns = now_ns;
  for (const auto& b : stats.bindings()) {
    const std::string& name = b.binding().interface();
    auto before = previous->frames.find(name);
    const bool known = before != previous->frames.end();
    bindings.Add({name, StateLabel(b.binding().state()), absl::StrCat(b.rx_frames()),
                  Rate(b.rx_frames(), known ? before->second.first : 0, seconds, known),
                  absl::StrCat(b.tx_frames()),
                  Rate(b.tx_frames(), known ? before->second.second : 0, seconds, known),
                  absl::StrCat(b.rx_resource_drops()), absl::StrCat(b.pcap_dropped()),
                  absl::StrCat(b.tx_queue_depth())});
    next.frames[name] = {b.rx_frames(), b.tx_frames()};
    for (const auto& pool : b.pools()) {
      const auto key = std::make_tuple(name, static_cast<int>(pool.name()), pool.generation());
      auto seen = previous->allocations.find(key);
      const bool pool_known = seen != previous->allocations.end();
      pools.Add({name, PoolLabel(pool.name()), pool.tag(), absl::StrCat(pool.generation()),
                 absl::StrCat(pool.descriptors()), absl::StrCat(pool.overflow_limit()),
                 absl::StrCat(pool.in_use()), absl::StrCat(pool.free()),
                 absl::StrCat(pool.high_watermark()),
                 Rate(pool.allocations(), pool_known ? seen->second : 0, seconds, pool_known),
                 absl::StrCat(pool.resource_failures()), HumanBytes(pool.memory_bytes()),
                 pool.draining() ? "draining" : ""});
      next.allocations[key] = pool.allocations();
    }
  }
  *previous = std::move(next);
  return text + bindings.Render() + "\n" + pools.Render();
}

int RunWatch(const WatchArgs& args, const GlobalOptions& options) {
  InterruptWatcher interrupt;  // before the channel's threads start
  int code = kExitOk;
  auto client = ConnectOrReport(options, &code);
  if (!client) return code;
  v1::WatchStatsRequest request;
  request.set_interface(args.interface);
  *request.mutable_interval() = TimeUtil::NanosecondsToDuration(
      static_cast<int64_t>(args.interval_seconds * 1e9));
  grpc::ClientContext context;
  auto reader = client->WatchStats(&context, request);
  interrupt.OnInterrupt([&context] { context.TryCancel(); });
  const bool screen = !options.json && isatty(STDOUT_FILENO);
  bool entered = false;
  Previous previous;
  v1::GetStatsResponse stats;
  uint64_t shown = 0;
  while ((args.count == 0 || shown < args.count) && reader->Read(&stats)) {
    ++shown;
    if (options.json) {
      PrintJson(stats, /*pretty=*/false);  // JSON Lines
    } else if (screen) {
      if (!entered) std::fputs(kEnterScreen, stdout);
      entered = true;
      std::printf("%s%s", kHomeAndClear, Render(stats, args, &previous).c_str());
    } else {
      std::printf("%s\n", Render(stats, args, &previous).c_str());
    }
    std::fflush(stdout);
  }
  if (entered) {
    std::fputs(kLeaveScreen, stdout);
    std::fflush(stdout);
  }
  if (args.count != 0 && shown == args.count) context.TryCancel();
  grpc::Status status = reader->Finish();
  return StreamEnd(status, interrupt.interrupted() || (args.count != 0 && shown == args.count));
}

}  // namespace

void AddWatchCommand(CLI::App& app, CommandRun* run) {
  auto args = std::make_shared<WatchArgs>();
  auto* watch =
      app.add_subcommand("watch", "a refreshing view of bindings and pools, with rates (like top)")
          ->footer("examples:\n"
                   "  pktpoolctl watch                  # every second, Ctrl-C quits\n"
                   "  pktpoolctl watch veth0 -n 0.5\n"
                   "  pktpoolctl -o json watch --count 10 > stats.jsonl\n"
                   "RX/S and TX/S are frames per second, ALLOC/S allocations per second of "
                   "each pool,\nover the last interval. Not a terminal: one snapshot after "
                   "another.");
  watch->add_option("interface", args->interface, "one binding (default: all)");
  watch->add_option("-n,--interval", args->interval_seconds, "seconds between refreshes")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  watch->add_option("--count", args->count, "stop after this many refreshes (default: never)");
  watch->callback([run, args] {
    *run = [args](const GlobalOptions& options) { return RunWatch(*args, options); };
  });
}

}  // namespace pktpool::ctl
