// Bindings on real veth interfaces with real libpcap, in a namespace of the test's own.
#include "daemon/capture/binding.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/namespace_test.h"
#include "tests/support/tcpdump.h"
#include "tests/support/test_frame.h"

extern char** environ;

namespace pktpool::capture {
namespace {

using Frame = std::vector<uint8_t>;

Frame MakeFrame(uint32_t sequence, size_t size) { return testing::TestFrame(sequence, size); }

std::vector<std::span<const uint8_t>> Spans(const std::vector<Frame>& frames) {
  return {frames.begin(), frames.end()};
}

// Pops from `subscriber` until `count` frames arrived or `timeout` passed.
std::vector<Frame> Collect(CaptureSubscriber& subscriber, size_t count, absl::Duration timeout) {
  std::vector<Frame> got;
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<RxFrame> batch;
  while (got.size() < count && absl::Now() < deadline) {
    batch.clear();
    subscriber.PopBatch(&batch, 256, absl::Milliseconds(50));
    for (const RxFrame& f : batch) got.push_back(f.Bytes());
  }
  return got;
}

// A received frame's sequence number (TestFrame) and kernel timestamp.
struct Arrival {
  uint32_t sequence;
  absl::Time at;
};
// Pops from `subscriber` until `count` frames arrived or `timeout` passed.
std::vector<Arrival> CollectArrivals(CaptureSubscriber& subscriber, size_t count,
                                     absl::Duration timeout) {
  std::vector<Arrival> got;
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<RxFrame> batch;
  while (got.size() < count && absl::Now() < deadline) {
    batch.clear();
    subscriber.PopBatch(&batch, 256, absl::Milliseconds(50));
    for (const RxFrame& f : batch) {
      const std::vector<uint8_t> bytes = f.Bytes();
      uint32_t sequence = 0;
      std::memcpy(&sequence, bytes.data() + 14, sizeof(sequence));
      got.push_back({sequence, f.timestamp()});
    }
  }
  return got;
}

// Every frame 0..n-1 arrived once, in order.
void ExpectInOrder(const std::vector<Arrival>& arrivals, size_t n) {
  ASSERT_EQ(arrivals.size(), n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(arrivals[i].sequence, i) << i;
}

// The span from the first to the last arrival is within 5 % of `expected`, give or take
// the latest frame the sender reported: a frame leaves at its due time plus its lateness
// on an absolute timeline, so a wake-up the machine delayed (as a shared VM, or ASan, may)
// lengthens the span by no more than the report says, and is not a pacing error.
void ExpectSpan(const std::vector<Arrival>& arrivals, absl::Duration expected,
                const SendReport& report) {
  ASSERT_GE(arrivals.size(), 2u);
  const double span = absl::ToDoubleSeconds(arrivals.back().at - arrivals.front().at);
  const double late = absl::ToDoubleSeconds(absl::Nanoseconds(report.lateness.max_ns()));
  EXPECT_NEAR(span, absl::ToDoubleSeconds(expected),
              absl::ToDoubleSeconds(expected) * 0.05 + late)
      << "the sender's latest frame was " << late * 1e6 << " us late";
}

template <typename Predicate>
bool WaitFor(Predicate done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// A receiving binding with `packets` receive packets (half of them built up front) and
// buffers to spare, so the packets run out first.
BindingOptions SmallReceivePool(uint32_t packets, bool hold) {
  BindingOptions options;
  options.rx.packet_descriptors = packets;
  options.rx.buffer_count = 256;
  options.rx_preallocate = packets / 2;
  options.rx_hold_when_exhausted = hold;
  return options;
}

class BindingTest : public testing::NamespaceTest {
 protected:
  void TearDown() override {
    // Every pool back to its baseline once nothing holds frames.
    for (auto& [binding, baseline] : bindings_) {
      BindingStats now = binding->Stats();
      EXPECT_EQ(now.rx_packets.in_use, baseline.rx_packets.in_use) << binding->interface();
      EXPECT_EQ(now.rx_buffers.in_use, baseline.rx_buffers.in_use) << binding->interface();
      EXPECT_EQ(now.tx_packets.in_use, 0u) << binding->interface();
      EXPECT_EQ(now.tx_buffers.in_use, 0u) << binding->interface();
      binding->Close();
    }
    bindings_.clear();
  }

  Binding* Bind(const std::string& interface, BindingOptions options = {}) {
    auto binding = Binding::Open(interface, options);
    EXPECT_TRUE(binding.ok()) << binding.status();
    if (!binding.ok()) return nullptr;
    Binding* raw = binding->get();
    bindings_.emplace_back(std::move(*binding), raw->Stats());
    return raw;
  }

  // Hold mode with a subscriber that does not read yet: a burst of 100 frames fills
  // `held` receive packets and the rest wait in the kernel ring, none dropped; as the
  // subscriber reads, every frame comes out, in order.
  void ExpectHeldInTheRing(const BindingOptions& receiver_options, uint64_t held) {
    Binding* sender = Bind(ns_->a());
    Binding* receiver = Bind(ns_->b(), receiver_options);
    auto subscriber = receiver->Subscribe("slow-start", 1000);
    std::vector<Frame> burst;
    for (uint32_t i = 0; i < 100; ++i) burst.push_back(MakeFrame(i, 100));
    for (const auto& r : sender->Send(Spans(burst), {})) ASSERT_EQ(r.error, SendError::kNone);
    ASSERT_TRUE(WaitFor([&] { return receiver->Stats().rx_frames >= held; }, absl::Seconds(5)));
    absl::SleepFor(absl::Milliseconds(100));
    BindingStats now = receiver->Stats();
    EXPECT_EQ(now.rx_frames, held);  // the rest wait in the ring
    EXPECT_EQ(now.rx_resource_drops, 0u);
    std::vector<Frame> got = Collect(*subscriber, 100, absl::Seconds(10));
    ASSERT_EQ(got.size(), 100u);
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], burst[i]) << i;
    EXPECT_EQ(receiver->Stats().rx_resource_drops, 0u);
    EXPECT_EQ(receiver->Stats().pcap.dropped, 0u);
    receiver->Unsubscribe(subscriber);
  }

  // A timed send from a to b on one session, with b's frames collected meanwhile (so the
  // receive pool never fills): the results, the session's report, `expected` arrivals.
  struct TimedRun {
    std::vector<FrameResult> results;
    SendReport report;
    std::vector<Arrival> arrivals;
  };
  TimedRun SendTimed(const std::vector<Frame>& frames, const SendOptions& options,
                     const std::vector<int64_t>& offsets, size_t expected) {
    Binding* sender = Bind(ns_->a());
    Binding* receiver = Bind(ns_->b());
    auto subscriber = receiver->Subscribe("timing", 4096);
    TimedRun run;
    std::thread collecting(
        [&] { run.arrivals = CollectArrivals(*subscriber, expected, absl::Seconds(20)); });
    std::unique_ptr<SendSession> session = sender->StartSend(options);
    session->Send(Spans(frames), offsets, options, &run.results);
    run.report = session->Finish();
    collecting.join();
    receiver->Unsubscribe(subscriber);
    return run;
  }

  std::vector<std::pair<std::unique_ptr<Binding>, BindingStats>> bindings_;
};


TEST_F(BindingTest, ByteExactInOrderWithSplitFramesAndIndependentCapture) {
  BindingOptions sender_options;
  sender_options.tx.buffer_size = 1024;  // frames over 1024 bytes are split over two buffers
  sender_options.tx.packet_descriptors = 256;
  BindingOptions receiver_options;
  receiver_options.rx.buffer_size = 512;  // received frames span up to three buffers
  receiver_options.rx.buffer_count = 8192;
  receiver_options.rx.packet_descriptors = 2048;
  Binding* sender = Bind(ns_->a(), sender_options);
  Binding* receiver = Bind(ns_->b(), receiver_options);
  ASSERT_NE(sender, nullptr);
  ASSERT_NE(receiver, nullptr);
  auto subscriber = receiver->Subscribe("test", 2048);
  testing::Tcpdump tcpdump(ns_->b(),
                           "/tmp/pktpool-binding-test-" + std::to_string(getpid()) + ".pcap");
  ASSERT_TRUE(tcpdump.ok()) << "tcpdump did not start";

  std::vector<Frame> half;
  uint64_t split = 0;  // frames over one 1024-byte buffer
  for (uint32_t i = 0; i < 1000; ++i) {
    half.push_back(MakeFrame(i, 60 + i * (1514 - 60) / 999));
    split += half.back().size() > 1024 ? 1 : 0;
  }
  // Untimed, then the same frames paced: an untimed frame's one buffer maps the caller's
  // bytes (no copy), a timed frame is copied into the pool's buffers and split.
  const uint64_t buffers_before = sender->Stats().tx_buffers.allocations;
  for (const SendOptions& options :
       {SendOptions{.wait_for_resources = absl::Seconds(5)},
        SendOptions{.wait_for_resources = absl::Seconds(5), .frames_per_second = 100000}}) {
    std::vector<FrameResult> results = sender->Send(Spans(half), options);
    ASSERT_EQ(results.size(), half.size());
    for (size_t i = 0; i < results.size(); ++i) {
      ASSERT_EQ(results[i].error, SendError::kNone) << i << " " << results[i].detail;
      ASSERT_EQ(results[i].sent, 1u);
    }
  }
  EXPECT_EQ(sender->Stats().tx_buffers.allocations - buffers_before, 1000 + 1000 + split);
  std::vector<Frame> frames = half;
  frames.insert(frames.end(), half.begin(), half.end());
  std::vector<Frame> got = Collect(*subscriber, frames.size(), absl::Seconds(10));
  ASSERT_EQ(got.size(), frames.size())
      << "rx_frames " << receiver->Stats().rx_frames << " drops "
      << receiver->Stats().rx_resource_drops << " pcap recv " << receiver->Stats().pcap.received
      << " pcap drop " << receiver->Stats().pcap.dropped << " sub drops "
      << receiver->Stats().subscribers[0].dropped;
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(got[i], frames[i]) << "frame " << i;

  std::vector<Frame> independent = tcpdump.StopAndRead(frames.size());
  ASSERT_EQ(independent.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(independent[i], frames[i]) << "frame " << i;

  BindingStats stats = receiver->Stats();
  EXPECT_EQ(stats.rx_frames, 2000u);
  EXPECT_EQ(stats.rx_resource_drops, 0u);
  EXPECT_EQ(sender->Stats().tx_frames, 2000u);
  receiver->Unsubscribe(subscriber);
}

TEST_F(BindingTest, ReceiveExhaustionCountsResourcesAndRecovers) {
  BindingOptions options;
  options.rx_hold_when_exhausted = false;  // drop mode: an empty pool drops, counted
  options.rx.packet_descriptors = 8;
  options.rx.buffer_count = 64;
  options.rx_preallocate = 4;
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b(), options);
  auto subscriber = receiver->Subscribe("holds-everything", 1000);
  std::vector<Frame> burst;
  for (uint32_t i = 0; i < 100; ++i) burst.push_back(MakeFrame(i, 100));
  for (const auto& r : sender->Send(Spans(burst), {.wait_for_resources = absl::Seconds(5)})) {
    ASSERT_EQ(r.error, SendError::kNone);
  }
  ASSERT_TRUE(WaitFor([&] {
    BindingStats s = receiver->Stats();
    return s.rx_frames + s.rx_resource_drops >= 100;
  }, absl::Seconds(5)));
  BindingStats stats = receiver->Stats();
  EXPECT_EQ(stats.rx_frames, 8u);  // the pool's 8 packets, all held by the subscriber
  EXPECT_EQ(stats.rx_resource_drops, 92u);
  EXPECT_EQ(stats.rx_packets.in_use, 8u);

  // The subscriber releases them: capture works again.
  EXPECT_EQ(Collect(*subscriber, 8, absl::Seconds(2)).size(), 8u);
  std::vector<Frame> more;
  for (uint32_t i = 0; i < 5; ++i) more.push_back(MakeFrame(1000 + i, 100));
  sender->Send(Spans(more), {.wait_for_resources = absl::Seconds(5)});
  std::vector<Frame> got = Collect(*subscriber, 5, absl::Seconds(5));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[4], more[4]);
  receiver->Unsubscribe(subscriber);
}

TEST_F(BindingTest, HoldWhenExhaustedKeepsFramesInTheRingInsteadOfDropping) {
  BindingOptions options;
  options.rx.packet_descriptors = 8;
  options.rx.buffer_count = 64;
  options.rx_preallocate = 4;
  options.rx_hold_when_exhausted = true;
  ExpectHeldInTheRing(options, 8);  // the pool's 8 packets
}

// Hold mode counts buffers as well as packets: with 64 receive packets but only 16
// buffers (one per frame), frames wait in the ring once the buffers are out instead of
// being dropped for want of a buffer.
TEST_F(BindingTest, HoldWhenExhaustedCountsBuffersToo) {
  BindingOptions options;
  options.rx.packet_descriptors = 64;
  options.rx.buffer_count = 16;
  options.rx_preallocate = 8;
  options.rx_hold_when_exhausted = true;
  ExpectHeldInTheRing(options, 16);  // the 16 buffers' worth
}

TEST_F(BindingTest, SendExhaustionFailsAtOnceOrWaitsForTheDeadline) {
  BindingOptions options;
  options.tx.packet_descriptors = 4;
  Binding* sender = Bind(ns_->a(), options);
  Binding* receiver = Bind(ns_->b());
  auto subscriber = receiver->Subscribe("count", 4096);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 300; ++i) frames.push_back(MakeFrame(i, 1000));

  // Two slow timed sends keep the 4 tx packets out (each builds 2 frames ahead of the
  // wire, the first due in 1 s, then one every 50 ms), so a third send finds none.
  std::vector<Frame> slow;
  std::vector<int64_t> later;
  for (uint32_t i = 0; i < 20; ++i) {
    slow.push_back(MakeFrame(5000 + i, 100));
    later.push_back(absl::ToInt64Nanoseconds(absl::Seconds(1) + absl::Milliseconds(50) * i));
  }
  std::vector<std::thread> paced;
  for (int i = 0; i < 2; ++i) {
    paced.emplace_back([&] {
      for (const auto& r : sender->Send(Spans(slow), {}, later)) {
        EXPECT_EQ(r.error, SendError::kNone);
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return sender->Stats().tx_packets.in_use == 4; }, absl::Seconds(5)));
  std::vector<FrameResult> at_once = sender->Send(Spans(frames), {});
  size_t sent = 0, resources = 0;
  for (const auto& r : at_once) {
    if (r.error == SendError::kNone) ++sent;
    if (r.error == SendError::kResources) ++resources;
  }
  EXPECT_EQ(sent + resources, frames.size());
  EXPECT_GT(resources, 0u) << "4 tx packets never ran out with two paced sends holding them";
  EXPECT_EQ(sender->Stats().tx_failures[static_cast<int>(SendError::kResources)], resources);

  // The same send waiting for resources gets every frame out as the paced ones free
  // their packets.
  std::vector<FrameResult> waited =
      sender->Send(Spans(frames), {.wait_for_resources = absl::Seconds(10)});
  for (const auto& r : waited) ASSERT_EQ(r.error, SendError::kNone);
  for (std::thread& t : paced) t.join();
  // What the senders reported as sent arrived, and nothing else.
  EXPECT_EQ(Collect(*subscriber, 4096, absl::Seconds(2)).size(), sent + frames.size() + 40);

  // Unpaced frames are injected by the caller, which recycles each packet before it
  // needs the next one: even fail-at-once sends all 300 with 4 packets.
  for (const auto& r : sender->Send(Spans(frames), {})) ASSERT_EQ(r.error, SendError::kNone);
  EXPECT_EQ(Collect(*subscriber, frames.size(), absl::Seconds(5)).size(), frames.size());
  receiver->Unsubscribe(subscriber);
}

// A paced send builds only a few frames ahead of the wire: 500 paced frames (10 frames
// repeated 50 times) go out through 16 transmit packets without waiting for resources,
// none fails with RESOURCES, and at most half the packets are ever out.
TEST_F(BindingTest, PacedRepeatBuildsOnlyALookAheadOfPackets) {
  BindingOptions options;
  options.tx.packet_descriptors = 16;
  Binding* sender = Bind(ns_->a(), options);
  Binding* receiver = Bind(ns_->b());
  auto subscriber = receiver->Subscribe("count", 4096);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 10; ++i) frames.push_back(MakeFrame(i, 200));
  std::vector<Frame> got;
  std::thread consumer([&] { got = Collect(*subscriber, 500, absl::Seconds(20)); });
  const std::vector<FrameResult> results =
      sender->Send(Spans(frames), {.frames_per_second = 20000, .repeat = 50});
  consumer.join();
  ASSERT_EQ(results.size(), frames.size());
  for (const FrameResult& r : results) {
    EXPECT_EQ(r.error, SendError::kNone);
    EXPECT_EQ(r.sent, 50u);
  }
  ASSERT_EQ(got.size(), 500u);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], frames[i % 10]) << i;
  const BindingStats stats = sender->Stats();
  EXPECT_EQ(stats.tx_failures[static_cast<int>(SendError::kResources)], 0u);
  EXPECT_LE(stats.tx_packets.high_watermark, 8u);
  receiver->Unsubscribe(subscriber);
}

TEST_F(BindingTest, SlowSubscriberLosesOnlyItsOwnFrames) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b());
  auto slow = receiver->Subscribe("never-reads", 16);
  auto reader = receiver->Subscribe("reads", 64);
  std::vector<Frame> got;
  std::thread consumer([&] { got = Collect(*reader, 500, absl::Seconds(10)); });
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 500; ++i) frames.push_back(MakeFrame(i, 200));
  // Paced so the reader keeps up while the slow one's 16 places fill.
  sender->Send(Spans(frames), {.wait_for_resources = absl::Seconds(5), .frames_per_second = 5000});
  consumer.join();
  ASSERT_EQ(got.size(), 500u);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], frames[i]);
  BindingStats stats = receiver->Stats();
  ASSERT_EQ(stats.subscribers.size(), 2u);
  EXPECT_EQ(stats.subscribers[0].name, "never-reads");
  EXPECT_EQ(stats.subscribers[0].delivered, 16u);
  EXPECT_EQ(stats.subscribers[0].dropped, 484u);
  EXPECT_EQ(stats.subscribers[1].dropped, 0u);
  receiver->Unsubscribe(slow);
  receiver->Unsubscribe(reader);
}

// A client that stops reading while its queue can hold more frames than the binding has
// receive packets (here 4096 places, 32 packets) must not stop another subscriber's
// capture. Hold mode: with every packet out, the reader's queue empty and the stalled
// subscriber not read for kStalledSubscriberIdle, the stalled one loses its oldest frames
// and then every new one until it reads again; the reader gets every frame, in order,
// and nothing is lost in the ring or for want of a packet.
TEST_F(BindingTest, StalledSubscriberCannotStarveAnotherInHoldMode) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b(), SmallReceivePool(32, /*hold=*/true));
  auto stalled = receiver->Subscribe("stalled", 4096);
  auto reader = receiver->Subscribe("reads", 4096);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 300; ++i) frames.push_back(MakeFrame(i, 200));
  std::vector<Frame> got;
  std::thread consumer([&] { got = Collect(*reader, frames.size(), absl::Seconds(15)); });
  for (const auto& r : sender->Send(Spans(frames), {.frames_per_second = 2000})) {
    ASSERT_EQ(r.error, SendError::kNone);
  }
  consumer.join();
  ASSERT_EQ(got.size(), frames.size()) << "the stalled subscriber stopped the reader's capture";
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], frames[i]) << i;
  BindingStats stats = receiver->Stats();
  EXPECT_EQ(stats.rx_resource_drops, 0u);
  EXPECT_EQ(stats.pcap.dropped, 0u);
  ASSERT_EQ(stats.subscribers.size(), 2u);
  EXPECT_EQ(stats.subscribers[0].name, "stalled");
  EXPECT_GT(stats.subscribers[0].dropped, 0u);
  EXPECT_EQ(stats.subscribers[0].delivered - stats.subscribers[0].queued,
            stats.subscribers[0].dropped - (frames.size() - stats.subscribers[0].delivered))
      << "every frame the stalled subscriber lost is counted once";
  EXPECT_LE(stats.subscribers[0].queued, 32u);
  EXPECT_EQ(stats.subscribers[1].dropped, 0u);
  // Reading again ends the shedding: the stalled subscriber gets new frames.
  std::vector<RxFrame> drained;
  while (stalled->PopBatch(&drained, 4096, absl::Milliseconds(50)) > 0) drained.clear();
  std::vector<Frame> more;
  for (uint32_t i = 0; i < 10; ++i) more.push_back(MakeFrame(5000 + i, 200));
  for (const auto& r : sender->Send(Spans(more), {})) ASSERT_EQ(r.error, SendError::kNone);
  std::vector<Frame> stalled_got = Collect(*stalled, more.size(), absl::Seconds(5));
  EXPECT_EQ(stalled_got, more);
  EXPECT_EQ(Collect(*reader, more.size(), absl::Seconds(5)), more);
  receiver->Unsubscribe(stalled);
  receiver->Unsubscribe(reader);
}

// The soak's case: a reader that is still reading but has frames queued whenever the rule
// looks (a Capture stream polls every 5 ms, and the last free packet's frame waits in its
// queue) counts as starving, so a stalled subscriber holding the pool is cut. Before, the
// rule waited for a reader with nothing queued, and the reader got one frame per poll
// while the kernel ring overflowed.
TEST_F(BindingTest, StalledSubscriberIsCutWhileAReaderWithFramesQueuedReads) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b(), SmallReceivePool(64, /*hold=*/true));
  auto stalled = receiver->Subscribe("stalled", 63);
  auto reader = receiver->Subscribe("reads", 4096);
  absl::SleepFor(kStalledSubscriberIdle + absl::Milliseconds(50));  // stalled from now on
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 100; ++i) frames.push_back(MakeFrame(i, 200));
  for (const auto& r : sender->Send(Spans(frames), {})) ASSERT_EQ(r.error, SendError::kNone);
  // The 64 packets fill: the stalled queue is full (63), the reader holds all 64. The
  // reader keeps reading without taking anything (PopBatch of 0 frames).
  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().rx_frames >= 64; }, absl::Seconds(5)));
  std::vector<RxFrame> none;
  const bool cut = WaitFor(
      [&] {
        reader->PopBatch(&none, 0, absl::ZeroDuration());
        return stalled->queued() < 63;
      },
      absl::Seconds(2));
  EXPECT_TRUE(cut) << "the stalled subscriber kept its 63 frames while the reader read";
  // The reader takes everything, in order; the rest waited in the ring.
  const std::vector<Frame> got = Collect(*reader, frames.size(), absl::Seconds(10));
  ASSERT_EQ(got.size(), frames.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], frames[i]) << i;
  const BindingStats stats = receiver->Stats();
  EXPECT_EQ(stats.pcap.dropped, 0u);
  EXPECT_EQ(stats.subscribers[1].dropped, 0u);
  EXPECT_GT(stats.subscribers[0].dropped, 0u);
  receiver->Unsubscribe(stalled);
  receiver->Unsubscribe(reader);
}

// The same without hold mode: frames that find no packet are dropped (counted) until the
// stalled subscriber has been idle long enough, then the reader's capture goes on; every
// frame sent after that reaches it.
TEST_F(BindingTest, StalledSubscriberCannotStarveAnotherInDropMode) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b(), SmallReceivePool(64, /*hold=*/false));
  auto stalled = receiver->Subscribe("stalled", 4096);
  auto reader = receiver->Subscribe("reads", 4096);
  std::vector<Frame> first;
  for (uint32_t i = 0; i < 100; ++i) first.push_back(MakeFrame(i, 200));
  for (const auto& r : sender->Send(Spans(first), {})) ASSERT_EQ(r.error, SendError::kNone);
  // The reader drains what it got; the stalled subscriber keeps the 64 packets.
  Collect(*reader, first.size(), absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return receiver->Stats().subscribers[0].dropped > 0; },
                      absl::Seconds(5)))
      << "the stalled subscriber kept every receive packet while the reader starved";
  std::vector<Frame> second;
  for (uint32_t i = 0; i < 200; ++i) second.push_back(MakeFrame(1000 + i, 200));
  std::vector<Frame> got;
  std::thread consumer([&] { got = Collect(*reader, second.size(), absl::Seconds(10)); });
  // Paced so the reader, with the 32 packets freed, keeps up even on a busy machine.
  for (const auto& r : sender->Send(Spans(second), {.frames_per_second = 1000})) {
    ASSERT_EQ(r.error, SendError::kNone);
  }
  consumer.join();
  EXPECT_EQ(got, second);
  EXPECT_EQ(receiver->Stats().subscribers[1].dropped, 0u);
  receiver->Unsubscribe(stalled);
  receiver->Unsubscribe(reader);
}

// A subscriber far behind but still reading is never cut: with every packet held by its
// queue and the other subscriber starving, hold mode waits for it (back-pressure), and
// both get every frame.
TEST_F(BindingTest, SlowButReadingSubscriberIsNotCut) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b(), SmallReceivePool(32, /*hold=*/true));
  auto slow = receiver->Subscribe("slow", 4096);
  auto reader = receiver->Subscribe("reads", 4096);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 100; ++i) frames.push_back(MakeFrame(i, 200));
  std::vector<Frame> slow_got, got;
  std::thread slow_consumer([&] {
    // One frame every 2 ms: far slower than the burst, well inside the grace.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::vector<RxFrame> one;
    while (slow_got.size() < frames.size() && absl::Now() < deadline) {
      one.clear();
      slow->PopBatch(&one, 1, absl::Milliseconds(2));
      for (const RxFrame& f : one) slow_got.push_back(f.Bytes());
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  std::thread consumer([&] { got = Collect(*reader, frames.size(), absl::Seconds(20)); });
  for (const auto& r : sender->Send(Spans(frames), {})) ASSERT_EQ(r.error, SendError::kNone);
  slow_consumer.join();
  consumer.join();
  EXPECT_EQ(slow_got, frames);
  EXPECT_EQ(got, frames);
  BindingStats stats = receiver->Stats();
  ASSERT_EQ(stats.subscribers.size(), 2u);
  EXPECT_EQ(stats.subscribers[0].dropped, 0u);
  EXPECT_EQ(stats.subscribers[1].dropped, 0u);
  EXPECT_EQ(stats.rx_resource_drops, 0u);
  EXPECT_EQ(stats.pcap.dropped, 0u);
  receiver->Unsubscribe(slow);
  receiver->Unsubscribe(reader);
}

TEST_F(BindingTest, InterfaceDeletedGoesDownThenUpWithCountersKept) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b());
  auto subscriber = receiver->Subscribe("s", 1024);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 10; ++i) frames.push_back(MakeFrame(i, 100));
  sender->Send(Spans(frames), {.wait_for_resources = absl::Seconds(5)});
  ASSERT_EQ(Collect(*subscriber, 10, absl::Seconds(5)).size(), 10u);

  ASSERT_TRUE(ns_->DeletePair().ok());
  ASSERT_TRUE(WaitFor([&] { return receiver->state() == BindingState::kDown; }, absl::Seconds(3)));
  ASSERT_TRUE(WaitFor([&] { return sender->state() == BindingState::kDown; }, absl::Seconds(3)));
  std::vector<FrameResult> down = sender->Send(Spans(frames), {});
  EXPECT_EQ(down[0].error, SendError::kBindingDown);
  BindingStats stats = receiver->Stats();
  EXPECT_EQ(stats.rx_frames, 10u);  // kept
  EXPECT_EQ(stats.down_events, 1u);

  ASSERT_TRUE(ns_->CreatePair().ok());
  ASSERT_TRUE(WaitFor([&] { return receiver->state() == BindingState::kUp; }, absl::Seconds(3)));
  ASSERT_TRUE(WaitFor([&] { return sender->state() == BindingState::kUp; }, absl::Seconds(3)));
  for (const auto& r : sender->Send(Spans(frames), {.wait_for_resources = absl::Seconds(5)})) {
    ASSERT_EQ(r.error, SendError::kNone) << r.detail;
  }
  std::vector<Frame> got = Collect(*subscriber, 10, absl::Seconds(5));
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[9], frames[9]);
  EXPECT_EQ(receiver->Stats().rx_frames, 20u);
  receiver->Unsubscribe(subscriber);
}

// Fault table: the interface renamed (and named back) under a binding. The binding follows
// the name it was bound to: DOWN while no interface has it (sends fail, counted), UP again
// when it is back; the peer's capture is not disturbed.
TEST_F(BindingTest, InterfaceRenamedGoesDownAndComesBackUnderItsName) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b());
  auto subscriber = receiver->Subscribe("s", 1024);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 10; ++i) frames.push_back(MakeFrame(i, 100));
  ASSERT_EQ(ns_->Run("ip link set " + ns_->a() + " down && ip link set " + ns_->a() +
                     " name pktpool-renamed && ip link set pktpool-renamed up"),
            0);
  ASSERT_TRUE(WaitFor([&] { return sender->state() == BindingState::kDown; }, absl::Seconds(3)));
  for (const FrameResult& r : sender->Send(Spans(frames), {})) {
    EXPECT_EQ(r.error, SendError::kBindingDown);
  }
  EXPECT_EQ(sender->Stats().tx_failures[static_cast<int>(SendError::kBindingDown)], 10u);
  EXPECT_EQ(receiver->state(), BindingState::kUp);
  ASSERT_EQ(ns_->Run("ip link set pktpool-renamed down && ip link set pktpool-renamed name " +
                     ns_->a() + " && ip link set " + ns_->a() + " up"),
            0);
  ASSERT_TRUE(WaitFor([&] { return sender->state() == BindingState::kUp; }, absl::Seconds(3)));
  for (const FrameResult& r :
       sender->Send(Spans(frames), {.wait_for_resources = absl::Seconds(5)})) {
    ASSERT_EQ(r.error, SendError::kNone) << r.detail;
  }
  EXPECT_EQ(Collect(*subscriber, 10, absl::Seconds(5)).size(), 10u);
  receiver->Unsubscribe(subscriber);
}

TEST_F(BindingTest, OwnFramesAreNotRecapturedByDefault) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b());
  auto own = sender->Subscribe("own", 1024);
  auto peer = receiver->Subscribe("peer", 1024);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 50; ++i) frames.push_back(MakeFrame(i, 80));
  sender->Send(Spans(frames), {.wait_for_resources = absl::Seconds(5)});
  EXPECT_EQ(Collect(*peer, 50, absl::Seconds(5)).size(), 50u);
  EXPECT_EQ(Collect(*own, 1, absl::Milliseconds(300)).size(), 0u);
  EXPECT_EQ(sender->Stats().rx_frames, 0u);
  sender->Unsubscribe(own);
  receiver->Unsubscribe(peer);
}

// Nanosecond timestamps by default; with kMicro (tcpdump's default, which spares the host
// SO_TIMESTAMPNS) whole microseconds, still on the wall clock.
TEST_F(BindingTest, TimestampPrecisionNanoByDefaultMicroWhenAsked) {
  Binding* sender = Bind(ns_->a());
  Binding* nano = Bind(ns_->b());
  BindingOptions micro_options;
  micro_options.timestamp_precision = TimestampPrecision::kMicro;
  Binding* micro = Bind(ns_->b(), micro_options);
  auto nano_frames = nano->Subscribe("nano", 1024);
  auto micro_frames = micro->Subscribe("micro", 1024);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 50; ++i) frames.push_back(MakeFrame(i, 80));
  const absl::Time before = absl::Now();
  for (const auto& r : sender->Send(Spans(frames), {.wait_for_resources = absl::Seconds(5)})) {
    ASSERT_EQ(r.error, SendError::kNone);
  }
  const std::vector<Arrival> in_nano = CollectArrivals(*nano_frames, 50, absl::Seconds(5));
  const std::vector<Arrival> in_micro = CollectArrivals(*micro_frames, 50, absl::Seconds(5));
  const absl::Time after = absl::Now();
  ExpectInOrder(in_nano, 50);
  ExpectInOrder(in_micro, 50);
  auto sub_microsecond = [](absl::Time t) { return absl::ToUnixNanos(t) % 1000; };
  size_t nano_with_fraction = 0;
  for (const Arrival& a : in_nano) nano_with_fraction += sub_microsecond(a.at) != 0 ? 1 : 0;
  EXPECT_GT(nano_with_fraction, 0u) << "50 nanosecond timestamps, all whole microseconds";
  for (const Arrival& a : in_micro) {
    EXPECT_EQ(sub_microsecond(a.at), 0) << a.sequence;
    EXPECT_GE(a.at, before - absl::Milliseconds(1)) << a.sequence;
    EXPECT_LE(a.at, after) << a.sequence;
  }
  nano->Unsubscribe(nano_frames);
  micro->Unsubscribe(micro_frames);
}

// The memory budget's figures are the pools' own: what Open and TunePool say they take is
// what the binding's tagged memory shows once they did.
TEST_F(BindingTest, PoolMemoryFiguresMatchWhatThePoolsAllocate) {
  BindingOptions options;
  options.tx.packet_overflow = 100;
  Binding* binding = Bind(ns_->a(), options);
  ASSERT_NE(binding, nullptr);
  EXPECT_EQ(binding->PoolMemoryInUse(), Binding::OpenMemoryBytes(options));
  const TuneRequest request{.descriptors = 4096, .buffer_size = 4096};
  const uint64_t asked = binding->TuneMemoryBytes(PoolId::kTxBuffers, request);
  EXPECT_EQ(asked, 4096u * (4096u + pool::BufferPool::DescriptorBytes()));
  const uint64_t before = binding->PoolMemoryInUse();
  ASSERT_TRUE(binding->TunePool(PoolId::kTxBuffers, request).ok());
  // Nothing holds the old buffers: it may already be gone, or still draining.
  const uint64_t after = binding->PoolMemoryInUse();
  EXPECT_TRUE(after == before + asked ||
              after == before + asked - PoolMemoryBytes({.packet_descriptors = 0,
                                                         .buffer_count = options.tx.buffer_count,
                                                         .buffer_size = options.tx.buffer_size}))
      << before << " + " << asked << " -> " << after;
  ASSERT_TRUE(WaitFor([&] { return binding->Stats().draining.empty(); }, absl::Seconds(5)));
  options.tx.buffer_count = 4096;
  options.tx.buffer_size = 4096;
  EXPECT_EQ(binding->PoolMemoryInUse(), Binding::OpenMemoryBytes(options));
}

// Fault table (README, "Reliability"): the MTU lowered under a running send. Frames over
// it fail with the kernel's reason, counted, and the send goes on; every frame is either
// at the peer or in the failures.
TEST_F(BindingTest, MtuLoweredUnderARunningSendFailsThoseFramesCountedAndTheSendGoesOn) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b());
  auto subscriber = receiver->Subscribe("mtu", 8192);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 3000; ++i) frames.push_back(MakeFrame(i, 1400));
  std::thread mtu_changes([&] {
    // Down once the send is well under way, back up once frames have failed.
    WaitFor([&] { return receiver->Stats().rx_frames >= 300; }, absl::Seconds(10));
    ns_->Run("ip link set " + ns_->a() + " mtu 1000");
    const int inject_failed = static_cast<int>(SendError::kInjectFailed);
    WaitFor([&] { return sender->Stats().tx_failures[inject_failed] >= 100; }, absl::Seconds(10));
    ns_->Run("ip link set " + ns_->a() + " mtu 1500");
  });
  const std::vector<FrameResult> results =
      sender->Send(Spans(frames), {.frames_per_second = 2000});
  mtu_changes.join();
  ASSERT_EQ(results.size(), frames.size());
  uint64_t sent = 0, failed = 0;
  for (const FrameResult& r : results) {
    if (r.error == SendError::kNone) {
      ++sent;
    } else {
      ASSERT_EQ(r.error, SendError::kInjectFailed) << r.detail;
      EXPECT_NE(r.detail.find("too long"), std::string::npos) << r.detail;  // EMSGSIZE
      ++failed;
    }
  }
  EXPECT_GE(failed, 100u);
  EXPECT_GE(sent, 300u);
  EXPECT_EQ(results.back().error, SendError::kNone) << "the send did not go on after the MTU";
  const BindingStats stats = sender->Stats();
  EXPECT_EQ(stats.tx_frames, sent);
  EXPECT_EQ(stats.tx_failures[static_cast<int>(SendError::kInjectFailed)], failed);
  // The peer got exactly the frames reported sent.
  EXPECT_EQ(Collect(*subscriber, sent, absl::Seconds(10)).size(), sent);
  EXPECT_EQ(Collect(*subscriber, 1, absl::Milliseconds(300)).size(), 0u);
  receiver->Unsubscribe(subscriber);
}

TEST_F(BindingTest, BadInputsGetClearErrorsAndLoseNothing) {
  EXPECT_EQ(Binding::Open("pktnone0", {}).status().code(), absl::StatusCode::kNotFound);
  BindingOptions bad_filter;
  bad_filter.filter = "this is not bpf";
  auto filtered = Binding::Open(ns_->b(), bad_filter);
  EXPECT_EQ(filtered.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(filtered.status().message().find("does not compile"), std::string::npos);
  BindingOptions too_many;
  too_many.rx.packet_descriptors = 0x10000;
  EXPECT_EQ(Binding::Open(ns_->b(), too_many).status().code(),
            absl::StatusCode::kResourceExhausted);

  Binding* sender = Bind(ns_->a());
  std::vector<Frame> frames = {Frame{}, MakeFrame(1, 70000), MakeFrame(2, 64)};
  std::vector<FrameResult> results = sender->Send(Spans(frames), {});
  EXPECT_EQ(results[0].error, SendError::kEmptyFrame);
  EXPECT_EQ(results[1].error, SendError::kFrameTooLarge);
  EXPECT_EQ(results[2].error, SendError::kNone);
  EXPECT_EQ(results[2].sent, 1u);
  // Larger than the MTU: libpcap refuses it, and the result says so.
  std::vector<Frame> jumbo = {MakeFrame(3, 3000)};
  FrameResult refused = sender->Send(Spans(jumbo), {})[0];
  EXPECT_EQ(refused.error, SendError::kInjectFailed);
  EXPECT_FALSE(refused.detail.empty());
}

TEST_F(BindingTest, RepeatAndPacingSendEveryFrameInOrder) {
  Binding* sender = Bind(ns_->a());
  Binding* receiver = Bind(ns_->b());
  auto subscriber = receiver->Subscribe("s", 1024);
  std::vector<Frame> frames = {MakeFrame(1, 64), MakeFrame(2, 64), MakeFrame(3, 64)};
  std::vector<FrameResult> results =
      sender->Send(Spans(frames), {.frames_per_second = 1000, .repeat = 4});
  for (const auto& r : results) EXPECT_EQ(r.sent, 4u);
  std::vector<Frame> got = Collect(*subscriber, 12, absl::Seconds(5));
  ASSERT_EQ(got.size(), 12u);
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(got[i], frames[i % 3]) << i;
  // 12 frames at 1000/s take at least 11 intervals.
  EXPECT_GE(got.size(), 12u);
  receiver->Unsubscribe(subscriber);
}

TEST_F(BindingTest, TuningEveryPoolUnderTrafficLosesNothingAndOldGenerationsDrain) {
  Binding* sender = Bind(ns_->a());
  BindingOptions receiver_options;
  receiver_options.rx_preallocate = 64;
  Binding* receiver = Bind(ns_->b(), receiver_options);
  auto subscriber = receiver->Subscribe("all", 65536);
  std::vector<Frame> got;
  std::atomic<bool> sending{true};
  std::thread consumer([&] {
    std::vector<RxFrame> batch;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      batch.clear();
      subscriber->PopBatch(&batch, 256, absl::Milliseconds(20));
      for (const RxFrame& f : batch) got.push_back(f.Bytes());
      if (batch.empty() && !sending.load()) break;
    }
  });
  size_t reported_sent = 0;
  std::thread flood([&] {
    for (uint32_t round = 0; round < 40; ++round) {
      std::vector<Frame> frames;
      for (uint32_t i = 0; i < 100; ++i) frames.push_back(MakeFrame(round * 100 + i, 300));
      for (const auto& r : sender->Send(Spans(frames), {.wait_for_resources = absl::Seconds(5)})) {
        reported_sent += r.sent;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    sending.store(false);
  });
  absl::SleepFor(absl::Milliseconds(30));
  auto rx_packets = receiver->TunePool(PoolId::kRxPackets, {.descriptors = 512, .overflow = 16});
  ASSERT_TRUE(rx_packets.ok()) << rx_packets.status();
  EXPECT_EQ(rx_packets->applied.descriptors, 512u);
  EXPECT_EQ(rx_packets->applied.generation, 1u);
  absl::SleepFor(absl::Milliseconds(30));
  auto rx_buffers = receiver->TunePool(PoolId::kRxBuffers, {.descriptors = 1500, .buffer_size = 1024});
  ASSERT_TRUE(rx_buffers.ok()) << rx_buffers.status();
  absl::SleepFor(absl::Milliseconds(30));
  auto tx_packets = sender->TunePool(PoolId::kTxPackets, {.descriptors = 300});
  ASSERT_TRUE(tx_packets.ok()) << tx_packets.status();
  EXPECT_EQ(tx_packets->applied.generation, 1u);
  absl::SleepFor(absl::Milliseconds(30));
  auto tx_buffers = sender->TunePool(PoolId::kTxBuffers, {.descriptors = 700, .buffer_size = 512});
  ASSERT_TRUE(tx_buffers.ok()) << tx_buffers.status();
  flood.join();
  consumer.join();
  // Every frame reported as sent arrived, in order, none twice.
  ASSERT_EQ(reported_sent, 4000u);
  ASSERT_EQ(got.size(), reported_sent);
  for (size_t i = 0; i < got.size(); ++i) {
    uint32_t sequence;
    std::memcpy(&sequence, got[i].data() + 14, sizeof(sequence));
    ASSERT_EQ(sequence, i);
  }
  // The new sizes are in effect, and every old generation drains and goes.
  EXPECT_EQ(receiver->options().rx.packet_descriptors, 512u);
  EXPECT_EQ(receiver->options().rx.buffer_size, 1024u);
  EXPECT_EQ(sender->options().tx.buffer_size, 512u);
  EXPECT_TRUE(WaitFor([&] {
    return receiver->Stats().draining.empty() && sender->Stats().draining.empty();
  }, absl::Seconds(3)));
  BindingStats stats = receiver->Stats();
  EXPECT_EQ(stats.rx_packets.descriptors, 512u);
  EXPECT_EQ(stats.rx_packets.generation, 2u);  // both receive pools were replaced
  EXPECT_EQ(stats.rx_resource_drops, 0u);
  receiver->Unsubscribe(subscriber);
  // The fixture's baseline check does not apply after a retune: compare to the new one.
  bindings_.clear();
}

TEST_F(BindingTest, TuningRejectsBadSizesAndClampsOverflow) {
  Binding* binding = Bind(ns_->a());
  EXPECT_EQ(binding->TunePool(PoolId::kTxPackets, {.descriptors = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto over = binding->TunePool(PoolId::kTxPackets, {.descriptors = 0x10000});
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("NDIS_STATUS_RESOURCES"), std::string::npos);
  auto clamped = binding->TunePool(PoolId::kTxPackets, {.descriptors = 65000, .overflow = 1000});
  ASSERT_TRUE(clamped.ok()) << clamped.status();
  EXPECT_TRUE(clamped->overflow_clamped);
  EXPECT_EQ(clamped->applied.overflow_limit, 535u);
  EXPECT_EQ(binding->TunePool(PoolId::kRxBuffers, {.descriptors = 100, .buffer_size = 8}).status().code(),
            absl::StatusCode::kInvalidArgument);
  bindings_.clear();
}

TEST_F(BindingTest, CloseFailsNewSendsAndClosesSubscribers) {
  auto binding = Binding::Open(ns_->b(), {});
  ASSERT_TRUE(binding.ok());
  auto subscriber = (*binding)->Subscribe("s");
  (*binding)->Close();
  EXPECT_TRUE(subscriber->closed());
  EXPECT_EQ((*binding)->state(), BindingState::kUnbinding);
  std::vector<Frame> frames = {MakeFrame(1, 64)};
  EXPECT_EQ((*binding)->Send(Spans(frames), {})[0].error, SendError::kClosed);
}

// ---- timed sends: each on its own timeline, measured at the peer -----------------------

TEST_F(BindingTest, PacedSendKeepsItsRateAtThePeer) {
  // 2,000 frames at 1,000 frames/s: every frame, in order, over 1.999 s (within 5 %: the
  // precise figures are bench/send_timing.sh's).
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 2000; ++i) frames.push_back(MakeFrame(i, 64));
  const TimedRun run = SendTimed(frames, {.frames_per_second = 1000}, {}, 2000);
  for (const auto& r : run.results) ASSERT_EQ(r.error, SendError::kNone);
  EXPECT_EQ(run.report.frames_sent, 2000u);
  EXPECT_TRUE(run.report.timed);
  EXPECT_EQ(run.report.lateness.count(), 2000u);
  EXPECT_NEAR(run.report.frames_per_second(), 1000, 50);
  ExpectInOrder(run.arrivals, 2000);
  ExpectSpan(run.arrivals, absl::Milliseconds(1999), run.report);
}

TEST_F(BindingTest, RecordedOffsetsRepeatAndMultiplierSetTheTimeline) {
  // 50 frames recorded 4 ms apart, twice (the second round one mean gap after the first),
  // replayed twice as fast: 100 frames 2 ms apart, 198 ms in all.
  std::vector<Frame> frames;
  std::vector<int64_t> offsets;
  for (uint32_t i = 0; i < 50; ++i) {
    frames.push_back(MakeFrame(i, 100));
    offsets.push_back(absl::ToInt64Nanoseconds(absl::Milliseconds(4) * i));
  }
  const TimedRun run = SendTimed(frames, {.repeat = 2, .multiplier = 2}, offsets, 100);
  for (const auto& r : run.results) ASSERT_EQ(r.sent, 2u);
  ASSERT_EQ(run.arrivals.size(), 100u);
  for (size_t i = 0; i < 100; ++i) ASSERT_EQ(run.arrivals[i].sequence, i % 50) << i;
  ExpectSpan(run.arrivals, absl::Milliseconds(198), run.report);
  // The loop boundary: one mean gap (2 ms), not a burst or a pause, give or take the
  // latest frame the sender reported (a late frame 49 shortens the gap by its lateness, as
  // a wake-up delayed under TSan did: 0.35 ms).
  const double late_ms =
      absl::ToDoubleMilliseconds(absl::Nanoseconds(run.report.lateness.max_ns()));
  EXPECT_NEAR(absl::ToDoubleMilliseconds(run.arrivals[50].at - run.arrivals[49].at), 2.0,
              1.0 + late_ms)
      << "the sender's latest frame was " << late_ms << " ms late";
}

TEST_F(BindingTest, BitRatePacingCountsFrameBytes) {
  // 1,250-byte frames at 10 Mbit/s: one per ms; 40 frames span 39 ms.
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 40; ++i) frames.push_back(MakeFrame(i, 1250));
  const TimedRun run = SendTimed(frames, {.megabits_per_second = 10}, {}, 40);
  for (const auto& r : run.results) ASSERT_EQ(r.error, SendError::kNone);
  ExpectInOrder(run.arrivals, 40);
  ExpectSpan(run.arrivals, absl::Milliseconds(39), run.report);
}

TEST_F(BindingTest, LimitAndDurationStopTheSendWithoutCallingItAFailure) {
  Binding* sender = Bind(ns_->a());
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 100; ++i) frames.push_back(MakeFrame(i, 64));
  // At most 150 injections of 100 frames x 3: frames 0..49 twice, 50..99 once.
  std::vector<FrameResult> limited = sender->Send(Spans(frames), {.repeat = 3, .limit = 150});
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(limited[i].error, SendError::kNone) << i;
    EXPECT_EQ(limited[i].sent, i < 50 ? 2u : 1u) << i;
    EXPECT_EQ(limited[i].skipped, i < 50 ? 1u : 2u) << i;
  }
  // 1,000 frames/s for 50 ms: frames due at 0..50 ms go (51), the rest are skipped.
  SendOptions timed{.frames_per_second = 1000, .duration = absl::Milliseconds(50)};
  std::unique_ptr<SendSession> session = sender->StartSend(timed);
  session->Send(Spans(frames), {}, timed, nullptr);
  const SendReport report = session->Finish();
  EXPECT_EQ(report.frames_sent, 51u);
  EXPECT_EQ(report.frames_skipped, 49u);
  EXPECT_EQ(report.frames_failed, 0u);
  EXPECT_TRUE(report.limit_reached);
  EXPECT_EQ(sender->Stats().tx_frames, 150u + 51u);
}

TEST_F(BindingTest, AFrameBuiltAfterItsTimeIsSentAtOnceAndCountedLate) {
  // One timeline over two Send calls: the second frame is due 1 ms after the first but
  // handed over 50 ms later, so it leaves at once, about 49 ms late, and is counted.
  Binding* sender = Bind(ns_->a());
  const std::vector<Frame> first = {MakeFrame(0, 64)}, second = {MakeFrame(1, 64)};
  const std::vector<int64_t> at_zero = {0}, at_one_ms = {1'000'000};
  SendOptions options;
  std::unique_ptr<SendSession> session = sender->StartSend(options);
  session->Send(Spans(first), at_zero, options, nullptr);
  absl::SleepFor(absl::Milliseconds(50));
  session->Send(Spans(second), at_one_ms, options, nullptr);
  const SendReport report = session->Finish();
  EXPECT_EQ(report.frames_sent, 2u);
  EXPECT_EQ(report.lateness.late(), 1u);
  EXPECT_GT(report.lateness.max_ns(), absl::ToInt64Nanoseconds(absl::Milliseconds(40)));
  EXPECT_EQ(report.slip_ns, 0);
  EXPECT_EQ(sender->Stats().tx_late_frames, 1u);
}

TEST_F(BindingTest, CancelAndCloseFailFramesNotYetDueAtOnce) {
  Binding* sender = Bind(ns_->a());
  const std::vector<Frame> frames = {MakeFrame(0, 64), MakeFrame(1, 64)};
  const std::vector<int64_t> now_and_in_an_hour = {0, absl::ToInt64Nanoseconds(absl::Hours(1))};
  // Cancelled by its callback 100 ms in: the frame due in an hour fails as cancelled.
  const absl::Time start = absl::Now();
  std::vector<FrameResult> cancelled = sender->Send(
      Spans(frames),
      {.cancelled = [start] { return absl::Now() - start > absl::Milliseconds(100); }},
      now_and_in_an_hour);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(cancelled[0].error, SendError::kNone);
  EXPECT_EQ(cancelled[1].error, SendError::kCancelled);
  EXPECT_EQ(sender->Stats().tx_failures[static_cast<int>(SendError::kCancelled)], 1u);
  // Closed while such a frame waits: Close does not wait for it, the frame fails as closed.
  std::vector<FrameResult> closed;
  std::thread sending([&] { closed = sender->Send(Spans(frames), {}, now_and_in_an_hour); });
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time closing = absl::Now();
  sender->Close();
  sending.join();
  bindings_.clear();  // closed: its pools are gone, nothing to compare in TearDown
  EXPECT_LT(absl::Now() - closing, absl::Seconds(5));
  EXPECT_EQ(closed[0].error, SendError::kNone);
  EXPECT_EQ(closed[1].error, SendError::kClosed);
}

}  // namespace
}  // namespace pktpool::capture
