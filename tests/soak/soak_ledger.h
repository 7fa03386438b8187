// The soak test's bookkeeping: what each sender was told about each frame it sent
// (SenderLedger), what a capture stream saw (CaptureTally), and the comparison of the
// two for one veth pair (Reconcile). Plain data: each object is written by one thread
// and read by others only after that thread has been joined.
#ifndef PKTPOOL_TESTS_SOAK_SOAK_LEDGER_H_
#define PKTPOOL_TESTS_SOAK_SOAK_LEDGER_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/soak/soak_frame.h"

namespace pktpool::soak {

// What the API said about one frame.
enum class Outcome : uint8_t {
  kSent,    // SendFrames answered OK with SENT for it, or its stream ended OK with every
            // frame of the stream counted as sent: it must reach the peer
  kFailed,  // SendFrames answered OK with another result for it: it must not be captured
  kMaybe,   // the call failed as a whole (status not OK) or a stream's totals cannot say
            // which frames failed: it may or may not be captured
};

// One sender's record, by sequence number (0, 1, 2, ... without gaps).
struct SenderLedger {
  uint16_t id = 0;
  int pair = 0;      // which veth pair it sends on
  std::string kind;  // "unary", "paced" or "stream"
  std::vector<Outcome> outcomes;
  uint64_t sent_hash = 0;  // sum of FrameHash over the bytes of every kSent frame
  uint64_t sent = 0, failed = 0, maybe = 0;
  uint64_t calls = 0;                         // RPCs (streams count once)
  std::map<std::string, uint64_t> failures;   // frames by reason (a SendResult or status)
  std::vector<std::string> unexpected;        // failures the test did not provoke

  // The next sequence number; its outcome must be recorded with Record.
  uint32_t Next() {
    outcomes.push_back(Outcome::kMaybe);
    return static_cast<uint32_t>(outcomes.size() - 1);
  }
  void Record(uint32_t sequence, Outcome outcome, uint64_t hash);
};

// What one capture stream saw: how often each (sender, sequence) arrived, verified byte
// for byte against SoakFrame.
struct CaptureTally {
  int pair = 0;  // the pair whose peer end it captures
  std::vector<std::vector<uint8_t>> seen;  // [sender][sequence] -> times (saturates at 255)
  uint64_t frames = 0;      // frames received on the stream
  uint64_t verified = 0;    // soak frames of this pair whose bytes match SoakFrame
  uint64_t corrupt = 0;     // soak frames whose bytes do not match their claimed id
  uint64_t foreign = 0;     // not soak frames (no magic): ignored, reported
  uint64_t misrouted = 0;   // valid soak frames of the other pair's senders
  uint64_t bad_length = 0;  // wire_length differs from the captured length
  uint64_t verified_hash = 0;  // sum of FrameHash over the verified frames' captured bytes
  uint64_t last_dropped = 0;   // CaptureResponse.dropped, the last value seen
  std::vector<std::string> examples;  // a few descriptions of bad frames

  // Checks one captured frame; `sender_pair[s]` is the pair of sender s (-1: no such
  // sender).
  void Add(std::string_view data, uint32_t wire_length, const std::vector<int>& sender_pair);
};

// The comparison for one pair.
struct PairReport {
  uint64_t reported_sent = 0, reported_failed = 0, maybe = 0;
  uint64_t captured = 0;             // distinct frames of this pair captured
  uint64_t missing = 0;              // kSent, never captured
  uint64_t duplicates = 0;           // captured more than once (extra copies)
  uint64_t failed_but_captured = 0;  // kFailed, yet captured
  uint64_t maybe_captured = 0;       // kMaybe and captured (allowed)
  uint64_t never_sent = 0;           // captured with a sequence its sender never used
  bool hash_matches = false;         // sent_hash == verified_hash of the kSent frames
  std::vector<FrameId> first_missing, first_failed_but_captured;

  // True when nothing the API reported sent was lost, duplicated or altered.
  bool ok(const CaptureTally& tally) const;
};

// Compares the ledgers of the pair's senders with the pair's capture.
PairReport Reconcile(const std::vector<const SenderLedger*>& senders, const CaptureTally& tally);

}  // namespace pktpool::soak

#endif  // PKTPOOL_TESTS_SOAK_SOAK_LEDGER_H_
