// The send scheduler (daemon/capture/send_schedule.h) with a fake clock: due times in
// integer nanoseconds, the pacer's decisions (on time, coalescing, catch-up and its bound,
// loops), and the lateness histogram.
#include "daemon/capture/send_schedule.h"

#include <cstdint>
#include <limits>
#include <map>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pktpool::capture {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kUs = 1'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

// ---- due times --------------------------------------------------------------------

TEST(SendTimelineTest, FrameRateIsExactAtAnyFrameIndex) {
  // 1000 frames/s: frame k at exactly k ms, up to a billion frames and beyond.
  for (uint64_t k : {0ull, 1ull, 999ull, 1'000'000ull, 999'999'999ull, 1'000'000'000ull}) {
    EXPECT_EQ(SendTimeline::FrameDue(k, 1000), static_cast<int64_t>(k) * kMs) << k;
  }
  // 3 frames/s: the interval is 333333333.33 ns; frame k is floor(k x 1e9 / 3), with no
  // drift: at frame 3e9 the timeline is at exactly 1e9 s.
  EXPECT_EQ(SendTimeline::FrameDue(1, 3), 333'333'333);
  EXPECT_EQ(SendTimeline::FrameDue(1'000'000'000, 3), 333'333'333'333'333'333);
  EXPECT_EQ(SendTimeline::FrameDue(3'000'000'000, 3), 1'000'000'000 * kS);
  // A month at 1M frames/s is 2.592e12 frames: frame k at exactly k us.
  EXPECT_EQ(SendTimeline::FrameDue(2'592'000'000'000, 1e6), 2'592'000'000'000 * kUs);
  // Adding a floating-point interval instead drifts (what the old pacing did).
  double accumulated = 0;
  for (int k = 0; k < 3'000'000; ++k) accumulated += 1e9 / 3;
  EXPECT_NE(static_cast<int64_t>(accumulated), SendTimeline::FrameDue(3'000'000, 3));
}

TEST(SendTimelineTest, NextFollowsTheClosedFormFrameByFrame) {
  SendTimeline timeline({.frames_per_second = 7});
  for (uint64_t k = 0; k < 1'000'000; ++k) {
    ASSERT_EQ(timeline.Next(64), SendTimeline::FrameDue(k, 7)) << k;
  }
  EXPECT_EQ(timeline.frames(), 1'000'000u);
  // Consecutive gaps near a billion frames are the floor or the ceiling of the interval.
  for (uint64_t k = 1'000'000'000; k < 1'000'000'100; ++k) {
    const int64_t gap = SendTimeline::FrameDue(k + 1, 7) - SendTimeline::FrameDue(k, 7);
    EXPECT_TRUE(gap == 142'857'142 || gap == 142'857'143) << k << " " << gap;
  }
}

TEST(SendTimelineTest, DueTimesSaturateInsteadOfOverflowing) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(SendTimeline::FrameDue(std::numeric_limits<uint64_t>::max(), 1e-6), kMax);
  EXPECT_EQ(SendTimeline::BitsDue(std::numeric_limits<uint64_t>::max(), 1e-6), kMax);
  EXPECT_EQ(SendTimeline::ScaledOffset(kMax, 1e-6), kMax);
  EXPECT_EQ(SendTimeline::ScaledOffset(kMax, 1), kMax);
}

TEST(SendTimelineTest, BitRateCountsTheBytesOfTheFramesBefore) {
  // 100 Mbit/s: a byte takes 80 ns. Frame k is due when frames 0..k-1 have left.
  SendTimeline timeline({.megabits_per_second = 100});
  EXPECT_EQ(timeline.Next(64), 0);
  EXPECT_EQ(timeline.Next(1514), 64 * 80);
  EXPECT_EQ(timeline.Next(100), (64 + 1514) * 80);
  EXPECT_EQ(timeline.Next(64), (64 + 1514 + 100) * 80);
  // A rate that is not a whole number of bits per ns: 3 Mbit/s, floor(bits x 1000 / 3).
  SendTimeline odd({.megabits_per_second = 3});
  odd.Next(1);
  EXPECT_EQ(odd.Next(1), 8 * 1000 / 3);
  EXPECT_EQ(odd.Next(1), 16 * 1000 / 3);
  // Exact after a petabit: 1e15 bits at 1e6 Mbit/s is 1e15 / 1e12 s = 1000 s.
  EXPECT_EQ(SendTimeline::BitsDue(1'000'000'000'000'000, 1e6), 1000 * kS);
}

TEST(SendTimelineTest, RecordedOffsetsAreScaledByTheMultiplierAndKeepOrder) {
  SendTimeline twice({.recorded = true, .multiplier = 2});
  EXPECT_EQ(twice.Next(64, 0), 0);
  EXPECT_EQ(twice.Next(64, 1000), 500);
  EXPECT_EQ(twice.Next(64, 3001), 1500);  // floor
  SendTimeline half({.recorded = true, .multiplier = 0.5});
  EXPECT_EQ(half.Next(64, 0), 0);
  EXPECT_EQ(half.Next(64, 1000), 2000);
  // An offset earlier than the frame before goes right after it: order is kept.
  SendTimeline unordered({.recorded = true});
  EXPECT_EQ(unordered.Next(64, 0), 0);
  EXPECT_EQ(unordered.Next(64, 5000), 5000);
  EXPECT_EQ(unordered.Next(64, 3000), 5000);
  EXPECT_EQ(unordered.Next(64, 6000), 6000);
  EXPECT_EQ(unordered.Next(64, -10), 6000);
}

TEST(SendTimelineTest, RepeatPeriodIsTheSpanPlusTheMeanGap) {
  const std::vector<int64_t> offsets = {0, 100, 200, 300};
  EXPECT_EQ(RepeatPeriod(offsets), 400);
  const std::vector<int64_t> uneven = {1000, 1010, 1090};  // span 90, mean gap 45
  EXPECT_EQ(RepeatPeriod(uneven), 135);
  EXPECT_EQ(RepeatPeriod(std::vector<int64_t>{7}), 0);
  EXPECT_EQ(RepeatPeriod(std::vector<int64_t>{}), 0);
  EXPECT_EQ(RepeatPeriod(std::vector<int64_t>{5, 5}), 0);
}

// ---- validation -------------------------------------------------------------------

TEST(ValidatePacingTest, ConflictsNameBothFields) {
  EXPECT_TRUE(ValidatePacing({}).ok());
  EXPECT_TRUE(ValidatePacing({.frames_per_second = 1000}).ok());
  EXPECT_TRUE(ValidatePacing({.megabits_per_second = 100}).ok());
  EXPECT_TRUE(ValidatePacing({.recorded = true, .multiplier = 4, .max_burst = 10}).ok());
  auto message = [](const SendPacing& pacing) {
    absl::Status status = ValidatePacing(pacing);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    return std::string(status.message());
  };
  EXPECT_THAT(message({.frames_per_second = 1, .megabits_per_second = 1}),
              HasSubstr("frames_per_second and megabits_per_second exclude each other"));
  EXPECT_THAT(message({.frames_per_second = 1, .recorded = true}),
              HasSubstr("offsets_ns (recorded timing) and frames_per_second exclude each other"));
  EXPECT_THAT(message({.megabits_per_second = 1, .recorded = true}),
              HasSubstr("and megabits_per_second exclude each other"));
  EXPECT_THAT(message({.frames_per_second = 10, .multiplier = 2}),
              HasSubstr("multiplier scales recorded timing"));
  EXPECT_THAT(message({.max_burst = 5}), HasSubstr("max_burst bounds the catch-up"));
}

TEST(ValidatePacingTest, OutOfRangeValuesAreRefused) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double bad : {-1.0, nan, inf, 2e9, 1e-7}) {
    EXPECT_FALSE(ValidatePacing({.frames_per_second = bad}).ok()) << bad;
    EXPECT_FALSE(ValidatePacing({.megabits_per_second = bad == 2e9 ? 2e7 : bad}).ok()) << bad;
  }
  for (double bad : {0.0, -2.0, nan, inf, 1e7, 1e-7}) {
    EXPECT_FALSE(ValidatePacing({.recorded = true, .multiplier = bad}).ok()) << bad;
  }
}

// ---- the pacer with a fake clock --------------------------------------------------

// The transmit thread's loop against a fake clock: it sleeps to the pacer's wake time
// (plus `oversleep`), "sends" a batch in `send_cost` ns, and can be stalled once. Returns
// each frame's send time and the batch sizes.
struct Simulation {
  std::vector<int64_t> sent_at;
  std::vector<size_t> batches;
  int64_t slip = 0;
};
Simulation Simulate(const std::vector<int64_t>& due, Pacer::Options options,
                    int64_t send_cost = 1 * kUs, int64_t oversleep = 0,
                    size_t stall_before = SIZE_MAX, int64_t stall = 0) {
  Pacer pacer(options);
  Simulation out;
  int64_t now = 0;
  size_t head = 0;
  for (int steps = 0; head < due.size() && steps < 10'000'000; ++steps) {
    if (head == stall_before) {
      now += stall;
      stall_before = SIZE_MAX;
    }
    const PacerStep step = pacer.Next(now, due.size() - head,
                                      [&](size_t i) { return due[head + i]; });
    if (step.send == 0) {
      EXPECT_GT(step.wait_until, now);
      now = step.wait_until + oversleep;
      continue;
    }
    for (size_t i = 0; i < step.send; ++i) out.sent_at.push_back(now);
    out.batches.push_back(step.send);
    head += step.send;
    now += send_cost;
  }
  out.slip = pacer.slip_ns();
  return out;
}

std::vector<int64_t> Paced(double fps, uint64_t frames) {
  SendTimeline timeline({.frames_per_second = fps});
  std::vector<int64_t> due;
  for (uint64_t k = 0; k < frames; ++k) due.push_back(timeline.Next(64));
  return due;
}

TEST(PacerTest, EveryFrameLeavesAtItsDueTime) {
  const std::vector<int64_t> due = Paced(1000, 2000);
  const Simulation run = Simulate(due, {.coalesce_ns = 2 * kUs, .max_batch = 32});
  ASSERT_EQ(run.sent_at.size(), due.size());
  for (size_t k = 0; k < due.size(); ++k) ASSERT_EQ(run.sent_at[k], due[k]) << k;
  EXPECT_EQ(run.sent_at.back() - run.sent_at.front(), 1999 * kMs);  // the span, exactly
}

TEST(PacerTest, TheTimelineStartsWhenItsFirstFrameLeaves) {
  // The transmit thread reaches the first frame 5 ms after its due time: the timeline
  // starts then, every frame keeps its spacing, and that start is not a slip.
  const std::vector<int64_t> due = Paced(1000, 100);
  Pacer pacer({.coalesce_ns = 2 * kUs, .max_batch = 32, .max_burst = 3});
  int64_t now = 5 * kMs;
  std::vector<int64_t> sent;
  for (size_t head = 0; head < due.size();) {
    const PacerStep step =
        pacer.Next(now, due.size() - head, [&](size_t i) { return due[head + i]; });
    if (step.send == 0) {
      now = step.wait_until;
      continue;
    }
    for (size_t i = 0; i < step.send; ++i) sent.push_back(now);
    head += step.send;
  }
  EXPECT_EQ(pacer.start_shift_ns(), 5 * kMs);
  EXPECT_EQ(pacer.slip_ns(), 5 * kMs);
  for (size_t k = 0; k < due.size(); ++k) ASSERT_EQ(sent[k], due[k] + 5 * kMs) << k;
}

TEST(PacerTest, ALateWakeUpDoesNotMoveTheTimeline) {
  // Every sleep overshoots by 30 us: each frame leaves 30 us late, but the next one is
  // still due on the original timeline, so the error never accumulates.
  const std::vector<int64_t> due = Paced(20000, 40000);
  const Simulation run = Simulate(due, {.coalesce_ns = 2 * kUs, .max_batch = 32}, 1 * kUs, 30 * kUs);
  ASSERT_EQ(run.sent_at.size(), due.size());
  for (size_t k = 0; k < due.size(); ++k) {
    ASSERT_GE(run.sent_at[k], due[k]) << k;
    ASSERT_LE(run.sent_at[k] - due[k], 30 * kUs) << k;
  }
  EXPECT_EQ(run.slip, 0);
}

TEST(PacerTest, FramesDueWithinTheWindowLeaveTogether) {
  // 2M frames/s: a frame every 500 ns; with a 2 us window, batches of up to 5 frames, and
  // no frame leaves more than the window before its time.
  const std::vector<int64_t> due = Paced(2e6, 10000);
  const Simulation run = Simulate(due, {.coalesce_ns = 2 * kUs, .max_batch = 32}, 100);
  ASSERT_EQ(run.sent_at.size(), due.size());
  size_t most = 0;
  for (size_t b : run.batches) most = std::max(most, b);
  EXPECT_EQ(most, 5u);
  for (size_t k = 0; k < due.size(); ++k) ASSERT_GE(run.sent_at[k], due[k] - 2 * kUs) << k;
}

TEST(PacerTest, CatchUpAfterAStallSendsWhatIsDueAtOnceAndKeepsTheTimeline) {
  // 100k frames/s, a 10 ms stall before frame 500: the 1000 frames due meanwhile go back
  // to back in sendmmsg batches of at most 32, and then the frames are on time again.
  const std::vector<int64_t> due = Paced(100000, 3000);
  const Simulation run =
      Simulate(due, {.coalesce_ns = 2 * kUs, .max_batch = 32}, 1 * kUs, 0, 500, 10 * kMs);
  ASSERT_EQ(run.sent_at.size(), due.size());
  for (size_t b : run.batches) ASSERT_LE(b, 32u);
  EXPECT_EQ(run.slip, 0);
  EXPECT_EQ(run.sent_at[2999], due[2999]);  // back on the original timeline
  EXPECT_EQ(run.sent_at.back() - run.sent_at.front(), due.back() - due.front());
}

TEST(PacerTest, MaxBurstBoundsTheCatchUpThenMovesTheTimeline) {
  // The same stall with max_burst 50: 50 frames leave behind schedule, then the timeline
  // moves so the next frame is due at once and the rest keep their 10 us spacing.
  const std::vector<int64_t> due = Paced(100000, 3000);
  const Simulation run = Simulate(
      due, {.coalesce_ns = 2 * kUs, .max_batch = 32, .max_burst = 50}, 1 * kUs, 0, 500, 10 * kMs);
  ASSERT_EQ(run.sent_at.size(), due.size());
  size_t late = 0;
  for (size_t k = 0; k < due.size(); ++k) {
    if (run.sent_at[k] > due[k] + run.slip + 2 * kUs) ++late;
  }
  EXPECT_EQ(late, 50u);
  EXPECT_GT(run.slip, 9 * kMs);
  EXPECT_LT(run.slip, 10 * kMs);
  for (size_t k = 600; k < due.size(); ++k) {
    ASSERT_EQ(run.sent_at[k], due[k] + run.slip) << k;
    ASSERT_EQ(run.sent_at[k] - run.sent_at[k - 1], 10 * kUs) << k;
  }
}

TEST(PacerTest, BitRatePacingWithMixedSizes) {
  // 100 Mbit/s with 64- and 1514-byte frames alternating: the gap after each frame is its
  // own transmission time at the rate (5.12 us and 121.12 us).
  SendTimeline timeline({.megabits_per_second = 100});
  std::vector<int64_t> due;
  for (int k = 0; k < 1000; ++k) due.push_back(timeline.Next(k % 2 == 0 ? 64 : 1514));
  const Simulation run = Simulate(due, {.coalesce_ns = 2 * kUs, .max_batch = 32}, 500);
  ASSERT_EQ(run.sent_at.size(), due.size());
  for (size_t k = 1; k < due.size(); ++k) {
    const int64_t expected = k % 2 == 1 ? 64 * 80 : 1514 * 80;
    ASSERT_EQ(run.sent_at[k] - run.sent_at[k - 1], expected) << k;
  }
}

TEST(PacerTest, LoopsContinueTheTimelineWithOneMeanGapAtTheBoundary) {
  // A recording of 100 frames 100 us apart, looped 5 times with the multiplier 2: every
  // gap is 50 us, the boundaries included (no burst, no pause).
  std::vector<int64_t> recorded;
  for (int i = 0; i < 100; ++i) recorded.push_back(i * 100 * kUs);
  const int64_t period = RepeatPeriod(recorded);
  EXPECT_EQ(period, 10 * kMs);
  SendTimeline timeline({.recorded = true, .multiplier = 2});
  std::vector<int64_t> due;
  for (int round = 0; round < 5; ++round) {
    for (int64_t offset : recorded) due.push_back(timeline.Next(64, offset + round * period));
  }
  const Simulation run = Simulate(due, {.coalesce_ns = 2 * kUs, .max_batch = 32});
  ASSERT_EQ(run.sent_at.size(), 500u);
  for (size_t k = 1; k < 500; ++k) ASSERT_EQ(run.sent_at[k] - run.sent_at[k - 1], 50 * kUs) << k;
}

// ---- lateness -----------------------------------------------------------------------

TEST(LatenessHistogramTest, QuantilesAreWithinASixteenthAboveTheTruth) {
  LatenessHistogram histogram(100 * kUs);
  for (int64_t v = 1; v <= 100000; ++v) histogram.Record(v * 10);  // 10 ns .. 1 ms
  EXPECT_EQ(histogram.count(), 100000u);
  EXPECT_EQ(histogram.max_ns(), 1 * kMs);
  EXPECT_EQ(histogram.late(), 90000u);  // over 100 us
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double truth = q * 1e6;
    const double got = static_cast<double>(histogram.Quantile(q));
    EXPECT_GE(got, truth) << q;
    EXPECT_LE(got, truth * 17 / 16) << q;
  }
  EXPECT_EQ(histogram.Quantile(1.0), 1 * kMs);
}

TEST(LatenessHistogramTest, SmallValuesAreExactEarlyIsZeroAndMergeAdds) {
  LatenessHistogram a(100);
  a.Record(-500);  // early: 0
  a.Record(7);
  a.Record(31);
  EXPECT_EQ(a.Quantile(0.3), 0);
  EXPECT_EQ(a.Quantile(0.5), 7);
  EXPECT_EQ(a.Quantile(1.0), 31);
  EXPECT_EQ(a.late(), 0u);
  LatenessHistogram b(100);
  b.Record(5000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 4u);
  EXPECT_EQ(a.late(), 1u);
  EXPECT_EQ(a.max_ns(), 5000);
  LatenessHistogram empty(100);
  EXPECT_EQ(empty.Quantile(0.99), 0);
  // The largest lateness fits (no bucket overflow).
  empty.Record(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(empty.Quantile(0.5), std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace pktpool::capture
