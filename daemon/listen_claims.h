// One daemon per socket and per address. A daemon claims its Unix socket before it binds
// anything (an exclusive flock on SOCKET.lock, held for its life) and checks that its TCP
// address is free, so a second daemon started on the same socket or address stops with a
// message naming it instead of taking the socket from the first.
#ifndef PKTPOOL_DAEMON_LISTEN_CLAIMS_H_
#define PKTPOOL_DAEMON_LISTEN_CLAIMS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pktpool {

// The claim on a Unix socket path: the lock file's descriptor, released when destroyed.
// Move-only; not thread-safe (main's).
class SocketClaim {
 public:
  // Makes the socket's directory, locks SOCKET.lock (writing our pid into it) and removes a
  // stale socket file nothing answers on. FAILED_PRECONDITION naming the socket when
  // another daemon holds the lock or a process answers on the socket, or when the path is
  // not a socket; PERMISSION_DENIED or UNAVAILABLE when the directory or the lock file
  // cannot be made, saying what to change.
  static absl::StatusOr<SocketClaim> Take(const std::string& socket_path);

  SocketClaim(SocketClaim&& other) noexcept;
  SocketClaim& operator=(SocketClaim&& other) noexcept;
  SocketClaim(const SocketClaim&) = delete;
  SocketClaim& operator=(const SocketClaim&) = delete;
  ~SocketClaim();

  const std::string& lock_path() const { return lock_path_; }

 private:
  SocketClaim(int fd, std::string lock_path) : fd_(fd), lock_path_(std::move(lock_path)) {}
  int fd_ = -1;
  std::string lock_path_;
};

// OK when a TCP listener could bind `host`:`port` now (no SO_REUSEPORT: a port another
// process listens on is taken). FAILED_PRECONDITION naming the address and `what` (the
// config field or flag to change) when it is in use; UNAVAILABLE for other failures.
absl::Status CheckTcpAddressFree(const std::string& host, int port, const std::string& what);

}  // namespace pktpool

#endif  // PKTPOOL_DAEMON_LISTEN_CLAIMS_H_
