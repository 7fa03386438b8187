#include "tests/soak/soak_ledger.h"

#include "absl/strings/str_cat.h"

namespace pktpool::soak {
namespace {

constexpr size_t kExamples = 10;

}  // namespace

void SenderLedger::Record(uint32_t sequence, Outcome outcome, uint64_t hash) {
  outcomes[sequence] = outcome;
  switch (outcome) {
    case Outcome::kSent:
      ++sent;
      sent_hash += hash;
      break;
    case Outcome::kFailed: ++failed; break;
    case Outcome::kMaybe: ++maybe; break;
  }
}

void CaptureTally::Add(std::string_view data, uint32_t wire_length,
                       const std::vector<int>& sender_pair) {
  ++frames;
  if (wire_length != data.size()) ++bad_length;
  const std::optional<FrameId> id = ParseSoakFrame(data);
  if (!id) {
    ++foreign;
    return;
  }
  const bool known = id->sender < sender_pair.size() && sender_pair[id->sender] >= 0;
  // A sequence far beyond anything sent in a day at the test's rates is corruption.
  if (!known || id->sequence > (1u << 30) || data != SoakFrame(id->sender, id->sequence)) {
    ++corrupt;
    if (examples.size() < kExamples) {
      examples.push_back(absl::StrCat("corrupt frame of ", data.size(), " bytes claiming sender ",
                                      id->sender, " sequence ", id->sequence));
    }
    return;
  }
  if (sender_pair[id->sender] != pair) {
    ++misrouted;
    if (examples.size() < kExamples) {
      examples.push_back(absl::StrCat("frame of sender ", id->sender, " (pair ",
                                      sender_pair[id->sender], ") captured on pair ", pair));
    }
    return;
  }
  ++verified;
  verified_hash += FrameHash(data);
  if (seen.size() <= id->sender) seen.resize(id->sender + 1);
  std::vector<uint8_t>& times = seen[id->sender];
  if (times.size() <= id->sequence) times.resize(id->sequence + 1 + id->sequence / 2, 0);
  if (times[id->sequence] < 255) ++times[id->sequence];
}

bool PairReport::ok(const CaptureTally& tally) const {
  return missing == 0 && duplicates == 0 && failed_but_captured == 0 && never_sent == 0 &&
         hash_matches && tally.corrupt == 0 && tally.misrouted == 0 && tally.bad_length == 0 &&
         tally.last_dropped == 0;
}

PairReport Reconcile(const std::vector<const SenderLedger*>& senders, const CaptureTally& tally) {
  PairReport report;
  uint64_t sent_hash = 0;
  // Hash of the captured frames that are not kSent, to take out of the captured sum.
  uint64_t not_sent_hash = 0;
  for (const SenderLedger* ledger : senders) {
    report.reported_sent += ledger->sent;
    report.reported_failed += ledger->failed;
    report.maybe += ledger->maybe;
    sent_hash += ledger->sent_hash;
    static const std::vector<uint8_t> kNone;
    const std::vector<uint8_t>& times =
        ledger->id < tally.seen.size() ? tally.seen[ledger->id] : kNone;
    for (size_t sequence = 0; sequence < times.size(); ++sequence) {
      const uint8_t count = times[sequence];
      if (count == 0) continue;
      ++report.captured;
      const uint64_t copies = count;
      if (sequence >= ledger->outcomes.size()) {
        ++report.never_sent;
        continue;
      }
      const uint32_t seq = static_cast<uint32_t>(sequence);
      switch (ledger->outcomes[sequence]) {
        case Outcome::kSent:
          report.duplicates += copies - 1;
          break;
        case Outcome::kFailed:
          ++report.failed_but_captured;
          if (report.first_failed_but_captured.size() < kExamples) {
            report.first_failed_but_captured.push_back({ledger->id, seq});
          }
          not_sent_hash += copies * FrameHash(SoakFrame(ledger->id, seq));
          break;
        case Outcome::kMaybe:
          ++report.maybe_captured;
          not_sent_hash += copies * FrameHash(SoakFrame(ledger->id, seq));
          break;
      }
    }
    for (size_t sequence = 0; sequence < ledger->outcomes.size(); ++sequence) {
      if (ledger->outcomes[sequence] != Outcome::kSent) continue;
      if (sequence < times.size() && times[sequence] > 0) continue;
      ++report.missing;
      if (report.first_missing.size() < kExamples) {
        report.first_missing.push_back({ledger->id, static_cast<uint32_t>(sequence)});
      }
    }
  }
  // Verified frames of senders that are not this pair's cannot be here (misrouted), so
  // every verified frame belongs to one of `senders`.
  report.hash_matches = tally.verified_hash - not_sent_hash == sent_hash;
  return report;
}

}  // namespace pktpool::soak
