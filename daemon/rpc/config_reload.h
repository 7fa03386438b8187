// The bindings the config file asks for, kept in step with the BindingTable across
// reloads (SIGHUP). The config owns only what it bound: a binding made through the API
// (the Bind RPC) is never unbound, retuned or replaced by a reload, even when the config
// names the same interface; a config binding unbound through the API is bound again by
// the next reload (the config says it should be there).
#ifndef PKTPOOL_DAEMON_RPC_CONFIG_RELOAD_H_
#define PKTPOOL_DAEMON_RPC_CONFIG_RELOAD_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "daemon/capture/binding.h"
#include "daemon/rpc/binding_table.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::rpc {

// One line for the log, with its syslog priority (3 error, 4 warning, 5 notice, 6 info).
struct ReloadNote {
  int priority;
  std::string text;
};

// Not thread-safe: one owner (pktpoold's signal loop). `bindings` must outlive it; RPCs
// may use the table meanwhile.
class ConfiguredBindings {
 public:
  explicit ConfiguredBindings(BindingTable* bindings) : bindings_(bindings) {}

  // Binds one binding of the config (options with defaults filled in) and owns it.
  // BindingTable::Bind's statuses, the message naming the interface.
  absl::Status Bind(const v1::BindConfig& binding);

  // Makes the table match `next` (validated, defaults filled in), without losing a frame:
  // binds what it names and is not bound; unbinds what the config bound and no longer
  // names; tunes live (TuneBindingPool, as the TunePool RPC) each pool whose sizes
  // changed; reports the options a running binding cannot change (snaplen, filter, ...)
  // as needing an unbind/bind or a restart, and keeps them as they run, so the next
  // reload reports them again. A step that fails (a Bind, a TunePool) is reported and
  // changes nothing, so the next reload tries it again. One note per action or refusal;
  // none when nothing changed.
  std::vector<ReloadNote> Apply(const v1::DaemonConfig& next);

 private:
  struct Owned {
    std::weak_ptr<capture::Binding> binding;
    v1::BindingOptions applied;  // the config's options as they run
  };

  // The binding the config made for `interface` if the table still holds that one.
  std::shared_ptr<capture::Binding> StillOurs(const std::string& interface,
                                              const Owned& owned) const;
  // Tunes the pools and reports the other changes of a binding the config owns.
  void Update(const v1::BindConfig& binding, Owned* owned, std::vector<ReloadNote>* notes);

  BindingTable* const bindings_;
  std::map<std::string, Owned> owned_;  // by interface
};

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_CONFIG_RELOAD_H_
