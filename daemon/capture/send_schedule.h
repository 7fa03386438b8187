// Send timing: when each frame of a timed send is due, which frames the transmit thread
// sends at a given moment, and how late they left. Pure C++ with no clock of its own:
// every time is passed in (nanoseconds on one monotonic clock), so the unit is tested
// with a fake clock.
#ifndef PKTPOOL_DAEMON_CAPTURE_SEND_SCHEDULE_H_
#define PKTPOOL_DAEMON_CAPTURE_SEND_SCHEDULE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace pktpool::capture {

// How a send is timed (SendFramesRequest's pacing fields). At most one of
// frames_per_second, megabits_per_second and recorded; none of them: as fast as possible.
struct SendPacing {
  double frames_per_second = 0;    // frame k is due k / frames_per_second s after the start
  // Frame k is due when frames 0..k-1 have left at this rate, counting each frame's bytes
  // x 8: no preamble, inter-frame gap or FCS (as tcpreplay --mbps).
  double megabits_per_second = 0;
  bool recorded = false;           // each frame carries its offset from the start, in ns
  double multiplier = 1;           // recorded: every offset is divided by it
  // Catch-up bound: at most this many frames leave back to back behind schedule; then the
  // timeline moves later (Pacer). 0: no bound, a late frame never moves the timeline.
  uint32_t max_burst = 0;

  bool timed() const { return frames_per_second > 0 || megabits_per_second > 0 || recorded; }
  bool operator==(const SendPacing&) const = default;
};

// Ranges of the pacing values: rates and the multiplier are represented exactly in
// integers of these units (micro-frames/s, millibits/s, millionths).
inline constexpr double kMinFramesPerSecond = 1e-6;
inline constexpr double kMaxFramesPerSecond = 1e9;
inline constexpr double kMinMegabitsPerSecond = 1e-6;
inline constexpr double kMaxMegabitsPerSecond = 1e7;  // 10 Tbit/s
inline constexpr double kMinMultiplier = 1e-6;
inline constexpr double kMaxMultiplier = 1e6;

// OK, or InvalidArgument naming the fields that conflict (frames_per_second,
// megabits_per_second, offsets_ns, multiplier) or the value out of range, and what to do.
absl::Status ValidatePacing(const SendPacing& pacing);

// SendTimeline: the due time of each frame of one timeline, in integer nanoseconds after
// its start, with no floating-point accumulation: frame k of a rate is exact for any k
// (128-bit products), so a month at 1M frames/s does not drift by a nanosecond.
// Not thread-safe.
class SendTimeline {
 public:
  // `pacing` must be valid (ValidatePacing) and timed.
  explicit SendTimeline(const SendPacing& pacing);

  // The due time of the next frame, `bytes` long. With recorded pacing `recorded_ns` is
  // its offset from the start as recorded (the multiplier is applied here); otherwise it
  // is ignored. Never earlier than the frame before, so frames keep their order.
  int64_t Next(uint64_t bytes, int64_t recorded_ns = 0);

  // Frames given so far.
  uint64_t frames() const { return frames_; }

  // Frame k's due time at `frames_per_second`: floor(k x 1e9 / rate) in ns, saturated.
  static int64_t FrameDue(uint64_t k, double frames_per_second);
  // Due time after `bits` at `megabits_per_second`: floor(bits x 1e3 / rate) in ns.
  static int64_t BitsDue(uint64_t bits, double megabits_per_second);
  // A recorded offset scaled by `multiplier`: floor(offset / multiplier) in ns.
  static int64_t ScaledOffset(int64_t offset_ns, double multiplier);

 private:
  const SendPacing pacing_;
  uint64_t frames_ = 0;
  uint64_t bits_ = 0;  // of the frames given so far (bit-rate pacing)
  int64_t last_ = 0;   // the previous due time
};

// The period of a repeated batch of recorded frames: round r's frame i is at
// offsets[i] + r x period. The span of the offsets plus their mean gap, span x n / (n-1),
// so that the next round follows one mean gap after the last frame: no burst and no
// pause at the boundary. 0 for fewer than two frames.
int64_t RepeatPeriod(std::span<const int64_t> offsets_ns);

// What the transmit thread does next with one timeline's queued frames.
struct PacerStep {
  size_t send = 0;         // frames from the head to send now, in one sendmmsg
  int64_t wait_until = 0;  // when send is 0: the head's due time; sleep until then
};

// Pacer: turns due times into sends for one timeline. The timeline starts when its first
// frame leaves: if that frame is late (the transmit thread woke late, the frames were
// built late), every due time moves by that much once (start_shift_ns), as tcpreplay's
// clock starts at its first packet. After that a frame is sent once its due time has
// come; frames due within the coalescing window after it go in the same sendmmsg. A late
// frame never moves the timeline: the frames already due go at once, back to back,
// max_batch per call. With max_burst set, after max_burst frames have left behind
// schedule back to back, the timeline moves later by how far it is still behind (the
// slip), so the next frame is due now and the rest keep their spacing.
// Not thread-safe (the transmit thread's).
class Pacer {
 public:
  struct Options {
    int64_t coalesce_ns = 0;  // frames due within this after now go together
    size_t max_batch = 1;     // frames per sendmmsg, at least 1
    uint32_t max_burst = 0;   // 0: no bound
  };
  explicit Pacer(const Options& options) : options_(options) {}

  // `queued` frames wait, the i-th due at due(i) (ascending; the timeline's own times,
  // before the slip). At least one must wait. Adds the slip to them itself.
  PacerStep Next(int64_t now, size_t queued, absl::FunctionRef<int64_t(size_t)> due);

  // How far the timeline has moved later so far, ns: add it to every due time. The start
  // shift included.
  int64_t slip_ns() const { return slip_; }
  // The part of slip_ns() that moved the start to the first frame's departure.
  int64_t start_shift_ns() const { return start_shift_; }

 private:
  const Options options_;
  bool started_ = false;
  int64_t start_shift_ = 0;
  int64_t slip_ = 0;
  uint32_t run_ = 0;  // frames sent back to back behind schedule since it was last on time
};

// LatenessHistogram: how late frames left against their due time, in log-linear buckets
// (16 per power of two: a quantile is within 1/16 above the true value; exact below 32 ns),
// plus the exact maximum and the number over a threshold. Not thread-safe.
class LatenessHistogram {
 public:
  explicit LatenessHistogram(int64_t late_threshold_ns) : threshold_(late_threshold_ns) {}

  // One frame that left `late_ns` after its due time (early counts as 0).
  void Record(int64_t late_ns);
  // Adds another histogram's frames (same threshold).
  void Merge(const LatenessHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t late() const { return late_; }  // frames later than the threshold
  int64_t max_ns() const { return max_; }
  int64_t threshold_ns() const { return threshold_; }
  // The q-quantile (0 < q <= 1): the upper end of its bucket, at most max_ns(). 0 when empty.
  int64_t Quantile(double q) const;

 private:
  static constexpr int kSubBuckets = 16;
  // Values below 32 have a bucket each; above, 16 per power of two up to 2^64.
  static constexpr int kBuckets = 2 * kSubBuckets + (64 - 5) * kSubBuckets;
  static int Bucket(uint64_t value);
  static uint64_t BucketTop(int bucket);

  int64_t threshold_;
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t late_ = 0;
  int64_t max_ = 0;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_SEND_SCHEDULE_H_
