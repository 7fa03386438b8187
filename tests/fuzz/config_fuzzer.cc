// config_fuzzer: the config file's parser and validator (ParseConfigText, the text
// LoadConfigFile reads), WithDefaults, and the reload diff (config_diff.h) between two
// fuzzed configs.
//
// Input: config text; a NUL byte, if any, splits it into the running config (before) and
// the reloaded one (after). Without one, the text is both.
//
// Checked: no crash; a refusal is InvalidArgument whose every line names the source
// ("fuzz.textproto:"); a valid config is valid without its file locations too, stays
// valid after WithDefaults (which is idempotent) and after a print/parse round trip; the
// diff of a config with itself is empty, and applying a diff's pool changes leaves none.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "daemon/config/config.h"
#include "daemon/config/config_diff.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::config {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr char kSource[] = "fuzz.textproto";

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "config_fuzzer: %s\n", what.c_str());
  std::abort();
}

// A refused config: InvalidArgument, every line naming the source.
void CheckRefusal(const absl::Status& status, absl::string_view source) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    Fail("a refusal that is not InvalidArgument: " + status.ToString());
  }
  if (status.message().empty()) Fail("a refusal without a message");
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    if (!absl::StartsWith(line, absl::StrCat(source, ":"))) {
      Fail("an error line that does not name " + std::string(source) + ": \"" +
           std::string(line) + "\" in:\n" + std::string(status.message()));
    }
  }
}

// A valid config: every other view of it agrees.
void CheckValid(const v1::DaemonConfig& config) {
  if (absl::Status again = ValidateConfig(config, kSource); !again.ok()) {
    Fail("valid with locations, invalid without: " + again.ToString());
  }
  for (const v1::BindConfig& binding : config.bindings()) {
    if (absl::Status options = ValidateBindingOptions(binding.options(), "options");
        !options.ok()) {
      Fail("a valid config's binding options are invalid alone: " + options.ToString());
    }
    const v1::BindingOptions filled = BindingOptionsWithDefaults(binding.options());
    if (absl::Status options = ValidateBindingOptions(filled, "options"); !options.ok()) {
      Fail("binding options invalid after BindingOptionsWithDefaults: " + options.ToString());
    }
  }
  for (bool is_root : {true, false}) {
    const v1::DaemonConfig filled = WithDefaults(config, is_root);
    if (absl::Status valid = ValidateConfig(filled, ""); !valid.ok()) {
      Fail("invalid after WithDefaults: " + valid.ToString());
    }
    if (!MessageDifferencer::Equals(WithDefaults(filled, is_root), filled)) {
      Fail("WithDefaults is not idempotent");
    }
    if (!ChangesNeedingRestart(filled, filled).empty()) {
      Fail("a config differs from itself (ChangesNeedingRestart)");
    }
    for (const v1::BindConfig& binding : filled.bindings()) {
      const BindingOptionsDiff diff =
          DiffBindingOptions(binding.interface(), binding.options(), binding.options());
      if (!diff.pool_changes.empty() || !diff.needs_rebind.empty()) {
        Fail("binding options differ from themselves");
      }
    }
  }
  // What the text printer writes, the parser reads back to the same, valid config.
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(config, &text)) Fail("cannot print");
  absl::StatusOr<v1::DaemonConfig> reparsed = ParseConfigText(text, kSource);
  if (!reparsed.ok()) Fail("the printed config does not load: " + reparsed.status().ToString());
  if (!MessageDifferencer::Equals(*reparsed, config)) Fail("print/parse round trip differs");
}

// The reload from `running` to `next` (both valid): what it reports and what it applies.
void CheckReload(const v1::DaemonConfig& running_text, const v1::DaemonConfig& next_text) {
  const v1::DaemonConfig running = WithDefaults(running_text, true);
  const v1::DaemonConfig next = WithDefaults(next_text, true);
  const std::vector<std::string> restart = ChangesNeedingRestart(running, next);
  for (const std::string& change : restart) {
    if (change.empty()) Fail("an empty ChangesNeedingRestart line");
  }
  for (const v1::BindConfig& after : next.bindings()) {
    for (const v1::BindConfig& before : running.bindings()) {
      if (before.interface() != after.interface()) continue;
      const BindingOptionsDiff diff =
          DiffBindingOptions(after.interface(), before.options(), after.options());
      v1::BindingOptions applied = before.options();
      for (const PoolChange& change : diff.pool_changes) {
        const v1::TunePoolRequest& request = change.request;
        if (request.interface() != after.interface() ||
            request.pool() < v1::POOL_NAME_RX_PACKETS ||
            request.pool() > v1::POOL_NAME_TX_BUFFERS || change.what.empty()) {
          Fail("a malformed pool change: " + request.ShortDebugString());
        }
        ApplyPoolChange(change, &applied);
      }
      const BindingOptionsDiff rest = DiffBindingOptions(after.interface(), applied,
                                                         after.options());
      if (!rest.pool_changes.empty()) {
        Fail("pool changes left after applying them all: " + rest.pool_changes[0].what);
      }
      if (rest.needs_rebind != diff.needs_rebind) {
        Fail("applying pool changes changed what needs a rebind");
      }
    }
  }
}

// Parses one config; checks it either way. Returns whether it is valid.
bool Load(std::string_view text, v1::DaemonConfig* config) {
  absl::StatusOr<v1::DaemonConfig> loaded = ParseConfigText(text, kSource);
  if (!loaded.ok()) {
    CheckRefusal(loaded.status(), kSource);
    return false;
  }
  CheckValid(*loaded);
  *config = std::move(*loaded);
  return true;
}

}  // namespace
}  // namespace pktpool::config

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view running_text = input.substr(0, split);
  const std::string_view next_text =
      split == std::string_view::npos ? running_text : input.substr(split + 1);
  pktpool::v1::DaemonConfig running, next;
  const bool running_ok = pktpool::config::Load(running_text, &running);
  const bool next_ok = split == std::string_view::npos ? running_ok
                                                       : pktpool::config::Load(next_text, &next);
  if (split == std::string_view::npos) next = running;
  if (running_ok && next_ok) pktpool::config::CheckReload(running, next);
  return 0;
}
