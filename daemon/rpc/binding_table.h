// BindingTable: the daemon's bindings by interface name.
#ifndef PKTPOOL_DAEMON_RPC_BINDING_TABLE_H_
#define PKTPOOL_DAEMON_RPC_BINDING_TABLE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/capture/binding.h"
#include "daemon/pool/mutex.h"

namespace pktpool::rpc {

// Thread-safe. Bindings are shared: an RPC in flight keeps its binding alive after an
// Unbind (which closes it: new sends fail with CLOSED, captures end).
class BindingTable {
 public:
  // Opens and adds a binding. ALREADY_EXISTS when the interface is bound; otherwise
  // Binding::Open's statuses.
  absl::StatusOr<std::shared_ptr<capture::Binding>> Bind(const std::string& interface,
                                                          const capture::BindingOptions& options);
  // Closes and removes a binding; NOT_FOUND when there is none.
  absl::Status Unbind(const std::string& interface);
  // Closes and removes `expected` only while it is still the binding of `interface`:
  // NOT_FOUND when the interface is not bound, FAILED_PRECONDITION (nothing closed) when
  // another binding took its place meanwhile (an Unbind and a Bind through the API).
  absl::Status UnbindIf(const std::string& interface,
                        const std::shared_ptr<capture::Binding>& expected);
  // The binding of `interface`; NOT_FOUND with the bound names when there is none.
  absl::StatusOr<std::shared_ptr<capture::Binding>> Get(const std::string& interface) const;
  // Every binding, or just `interface` (NOT_FOUND if unknown) when it is not empty.
  absl::StatusOr<std::vector<std::shared_ptr<capture::Binding>>> Select(
      const std::string& interface) const;
  // Closes every binding (shutdown).
  void CloseAll();

 private:
  // Unbind and UnbindIf; `expected` null takes whatever binding `interface` has.
  absl::Status Remove(const std::string& interface,
                      const std::shared_ptr<capture::Binding>& expected);

  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<capture::Binding>> bindings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_BINDING_TABLE_H_
