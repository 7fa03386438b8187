// What a config reload changes, worked out from two configs without side effects: the
// pools to tune live, and the settings that only an unbind/bind or a restart applies.
#ifndef PKTPOOL_DAEMON_CONFIG_CONFIG_DIFF_H_
#define PKTPOOL_DAEMON_CONFIG_CONFIG_DIFF_H_

#include <string>
#include <vector>

#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::config {

// One pool whose configured sizes changed, as the TunePool request that applies them.
struct PoolChange {
  v1::TunePoolRequest request;  // interface, pool and the new sizes
  // The fields behind it, e.g. "bindings[veth0].options.tx.packet_descriptors: 512 -> 256".
  std::string what;
};

// How a binding's options differ between the running config and a reloaded one.
struct BindingOptionsDiff {
  // Pools to tune live, in the order rx packets, rx buffers, tx packets, tx buffers.
  std::vector<PoolChange> pool_changes;
  // Options a running binding cannot change (snaplen, filter, ...), one
  // "bindings[IF].options.FIELD: OLD -> NEW" each.
  std::vector<std::string> needs_rebind;
};

// The difference for the binding of `interface`; both option sets with their defaults
// filled in (BindingOptionsWithDefaults), so a field left unset equals its default.
BindingOptionsDiff DiffBindingOptions(const std::string& interface,
                                      const v1::BindingOptions& running,
                                      const v1::BindingOptions& next);

// Records in `options` the sizes `change` set (once its TunePool succeeded).
void ApplyPoolChange(const PoolChange& change, v1::BindingOptions* options);

// Settings outside the bindings that only a restart applies (listen, limits, metrics),
// one "FIELD: OLD -> NEW" each, e.g. "listen.tcp_address: \"\" -> \"127.0.0.1:50051\"".
// Both configs with defaults filled in (WithDefaults).
std::vector<std::string> ChangesNeedingRestart(const v1::DaemonConfig& running,
                                               const v1::DaemonConfig& next);

}  // namespace pktpool::config

#endif  // PKTPOOL_DAEMON_CONFIG_CONFIG_DIFF_H_
