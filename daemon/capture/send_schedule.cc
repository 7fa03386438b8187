#include "daemon/capture/send_schedule.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"

namespace pktpool::capture {
namespace {

constexpr int64_t kMaxNs = std::numeric_limits<int64_t>::max();

// Rates and the multiplier in the integer units of the arithmetic below.
int64_t MicroFramesPerSecond(double frames_per_second) {
  return std::max<int64_t>(1, std::llround(frames_per_second * 1e6));
}
int64_t MillibitsPerSecond(double megabits_per_second) {
  return std::max<int64_t>(1, std::llround(megabits_per_second * 1e9));
}
int64_t MultiplierMillionths(double multiplier) {
  return std::max<int64_t>(1, std::llround(multiplier * 1e6));
}

// numerator x scale / denominator in 128 bits, floored, saturated at the largest int64.
int64_t MulDiv(uint64_t numerator, uint64_t scale, uint64_t denominator) {
  const absl::uint128 quotient = absl::uint128(numerator) * scale / denominator;
  return quotient > absl::uint128(kMaxNs) ? kMaxNs
                                          : static_cast<int64_t>(absl::Uint128Low64(quotient));
}

absl::Status OutOfRange(const char* field, double value, double low, double high,
                        const char* unit) {
  return absl::InvalidArgumentError(absl::StrCat(field, " is ", value, "; use ", low, " to ",
                                                 high, unit));
}

}  // namespace

absl::Status ValidatePacing(const SendPacing& pacing) {
  const double fps = pacing.frames_per_second;
  const double mbps = pacing.megabits_per_second;
  if (!std::isfinite(fps) || fps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "frames_per_second is ", fps, "; use a rate above 0, or 0 for no frame rate"));
  }
  if (!std::isfinite(mbps) || mbps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "megabits_per_second is ", mbps, "; use a rate above 0, or 0 for no bit rate"));
  }
  if (fps > 0 && mbps > 0) {
    return absl::InvalidArgumentError(
        "frames_per_second and megabits_per_second exclude each other; set one of them");
  }
  if (pacing.recorded && (fps > 0 || mbps > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "offsets_ns (recorded timing) and ", fps > 0 ? "frames_per_second" : "megabits_per_second",
        " exclude each other; send the offsets, or a rate"));
  }
  if (fps > 0 && (fps < kMinFramesPerSecond || fps > kMaxFramesPerSecond)) {
    return OutOfRange("frames_per_second", fps, kMinFramesPerSecond, kMaxFramesPerSecond, "");
  }
  if (mbps > 0 && (mbps < kMinMegabitsPerSecond || mbps > kMaxMegabitsPerSecond)) {
    return OutOfRange("megabits_per_second", mbps, kMinMegabitsPerSecond, kMaxMegabitsPerSecond,
                      "");
  }
  const double multiplier = pacing.multiplier;
  if (!std::isfinite(multiplier) || multiplier < kMinMultiplier || multiplier > kMaxMultiplier) {
    return OutOfRange("multiplier", multiplier, kMinMultiplier, kMaxMultiplier,
                      " (1: the recorded speed)");
  }
  if (multiplier != 1 && !pacing.recorded) {
    return absl::InvalidArgumentError(
        "multiplier scales recorded timing: it needs offsets_ns (one per frame)");
  }
  if (pacing.max_burst > 0 && !pacing.timed()) {
    return absl::InvalidArgumentError(
        "max_burst bounds the catch-up of a timed send: it needs frames_per_second, "
        "megabits_per_second or offsets_ns");
  }
  return absl::OkStatus();
}

SendTimeline::SendTimeline(const SendPacing& pacing) : pacing_(pacing) {}

int64_t SendTimeline::FrameDue(uint64_t k, double frames_per_second) {
  // k / (micro / 1e6) s = k x 1e15 / micro ns.
  return MulDiv(k, 1'000'000'000'000'000ull,
                static_cast<uint64_t>(MicroFramesPerSecond(frames_per_second)));
}

int64_t SendTimeline::BitsDue(uint64_t bits, double megabits_per_second) {
  // bits / (milli / 1e3) s = bits x 1e12 / milli ns.
  return MulDiv(bits, 1'000'000'000'000ull,
                static_cast<uint64_t>(MillibitsPerSecond(megabits_per_second)));
}

int64_t SendTimeline::ScaledOffset(int64_t offset_ns, double multiplier) {
  // offset / (millionths / 1e6) = offset x 1e6 / millionths.
  if (offset_ns <= 0) return 0;
  return MulDiv(static_cast<uint64_t>(offset_ns), 1'000'000ull,
                static_cast<uint64_t>(MultiplierMillionths(multiplier)));
}

int64_t SendTimeline::Next(uint64_t bytes, int64_t recorded_ns) {
  int64_t due = 0;
  if (pacing_.frames_per_second > 0) {
    due = FrameDue(frames_, pacing_.frames_per_second);
  } else if (pacing_.megabits_per_second > 0) {
    due = BitsDue(bits_, pacing_.megabits_per_second);
    bits_ += bytes * 8;
  } else {
    due = ScaledOffset(recorded_ns, pacing_.multiplier);
  }
  ++frames_;
  last_ = std::max(last_, due);
  return last_;
}

int64_t RepeatPeriod(std::span<const int64_t> offsets_ns) {
  const size_t n = offsets_ns.size();
  if (n < 2) return 0;
  const int64_t span = offsets_ns.back() - offsets_ns.front();
  if (span <= 0) return 0;
  return MulDiv(static_cast<uint64_t>(span), n, n - 1);
}

PacerStep Pacer::Next(int64_t now, size_t queued, absl::FunctionRef<int64_t(size_t)> due) {
  int64_t head = due(0) + slip_;
  if (head > now) {
    run_ = 0;
    return {.send = 0, .wait_until = head};
  }
  if (!started_) {
    // The first frame leaves now: the timeline starts with it.
    started_ = true;
    start_shift_ = now - head;
    slip_ += start_shift_;
    head = now;
  }
  bool behind = head < now - options_.coalesce_ns;
  if (behind && options_.max_burst > 0 && run_ >= options_.max_burst) {
    // The catch-up burst is over: the timeline moves so the head is due now.
    slip_ += now - head;
    head = now;
    behind = false;
  }
  if (!behind) run_ = 0;
  size_t room = std::min(queued, std::max<size_t>(options_.max_batch, 1));
  if (behind && options_.max_burst > 0) room = std::min<size_t>(room, options_.max_burst - run_);
  size_t send = 1;
  while (send < room && due(send) + slip_ <= now + options_.coalesce_ns) ++send;
  if (behind) run_ += static_cast<uint32_t>(send);
  return {.send = send, .wait_until = 0};
}

int LatenessHistogram::Bucket(uint64_t value) {
  if (value < 2 * kSubBuckets) return static_cast<int>(value);
  const int msb = std::bit_width(value) - 1;  // >= 5
  const int shift = msb - 4;
  const int top = static_cast<int>(value >> shift);  // 16..31
  return 2 * kSubBuckets + (msb - 5) * kSubBuckets + (top - kSubBuckets);
}

uint64_t LatenessHistogram::BucketTop(int bucket) {
  if (bucket < 2 * kSubBuckets) return static_cast<uint64_t>(bucket);
  const int msb = (bucket - 2 * kSubBuckets) / kSubBuckets + 5;
  const uint64_t top = static_cast<uint64_t>((bucket - 2 * kSubBuckets) % kSubBuckets + kSubBuckets);
  const int shift = msb - 4;
  if (msb == 63 && top == 31) return std::numeric_limits<uint64_t>::max();
  return ((top + 1) << shift) - 1;
}

void LatenessHistogram::Record(int64_t late_ns) {
  const int64_t late = std::max<int64_t>(late_ns, 0);
  ++counts_[static_cast<size_t>(Bucket(static_cast<uint64_t>(late)))];
  ++count_;
  if (late > threshold_) ++late_;
  max_ = std::max(max_, late);
}

void LatenessHistogram::Merge(const LatenessHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  late_ += other.late_;
  max_ = std::max(max_, other.max_);
}

int64_t LatenessHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const double wanted = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_));
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(wanted));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t top = BucketTop(static_cast<int>(i));
      return static_cast<int64_t>(std::min<uint64_t>(top, static_cast<uint64_t>(max_)));
    }
  }
  return max_;
}

}  // namespace pktpool::capture
