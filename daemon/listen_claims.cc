#include "daemon/listen_claims.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"

namespace pktpool {
namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

// The pid a lock file names, or 0.
long LockHolder(int fd) {
  char text[32] = {};
  const ssize_t got = pread(fd, text, sizeof(text) - 1, 0);
  long pid = 0;
  if (got <= 0 ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(text, got)), &pid)) {
    return 0;
  }
  return pid;
}

// True when a process accepts connections on the Unix socket `path`.
bool SomethingAnswers(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool answered =
      connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return answered;
}

}  // namespace

absl::StatusOr<SocketClaim> SocketClaim::Take(const std::string& socket_path) {
  const std::filesystem::path directory = std::filesystem::path(socket_path).parent_path();
  if (!directory.empty()) {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot create the socket's directory ", directory.string(), ": ", error.message(),
          "; create it, or choose another --socket (listen.unix_socket)"));
    }
  }
  const std::string lock_path = socket_path + ".lock";
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    const int error = errno;
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot open the lock file ", lock_path, ": ", ErrnoText(error),
        "; the socket's directory must be writable, or choose another --socket "
        "(listen.unix_socket)"));
  }
  SocketClaim claim(fd, lock_path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error != EWOULDBLOCK) {
      return absl::UnavailableError(
          absl::StrCat("cannot lock ", lock_path, ": ", ErrnoText(error)));
    }
    const long holder = LockHolder(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "another pktpoold", holder > 0 ? absl::StrCat(" (pid ", holder, ")") : "",
        " serves on ", socket_path, " (it holds ", lock_path,
        "); stop it first, or choose another --socket (listen.unix_socket)"));
  }
  // Best effort: without the pid the lock still holds; only a second daemon's message
  // loses the holder's pid.
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const ssize_t written = pwrite(fd, pid.data(), pid.size(), 0);
  }
  struct stat info {};
  if (lstat(socket_path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          socket_path, " exists and is not a socket; remove it, or choose another --socket "
                       "(listen.unix_socket)"));
    }
    if (SomethingAnswers(socket_path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a process already answers on ", socket_path, " (without holding ", lock_path,
          ": an older pktpoold?); stop it first, or choose another --socket "
          "(listen.unix_socket)"));
    }
    // Stale: left by a daemon that died without removing it (kill -9, a crash).
    if (unlink(socket_path.c_str()) != 0 && errno != ENOENT) {
      const int error = errno;
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot remove the stale socket ", socket_path, ": ", ErrnoText(error)));
    }
  }
  return claim;
}

SocketClaim::SocketClaim(SocketClaim&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), lock_path_(std::move(other.lock_path_)) {}

SocketClaim& SocketClaim::operator=(SocketClaim&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    lock_path_ = std::move(other.lock_path_);
  }
  return *this;
}

SocketClaim::~SocketClaim() {
  if (fd_ >= 0) close(fd_);  // releases the flock; the file stays (removing it would race)
}

absl::Status CheckTcpAddressFree(const std::string& host, int port, const std::string& what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (const int failed = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(),
                                     &hints, &found);
      failed != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host, ":", port, " (",
                                               gai_strerror(failed), "); change ", what));
  }
  absl::Status status;
  for (addrinfo* a = found; a != nullptr && status.ok(); a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // TIME_WAIT is not "in use"
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      const int error = errno;
      if (error == EADDRINUSE) {
        status = absl::FailedPreconditionError(absl::StrCat(
            host, ":", port, " is already in use (another process listens there); stop it, "
            "or change ", what));
      } else if (error != EADDRNOTAVAIL && error != EAFNOSUPPORT) {
        status = absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port,
                                                     ": ", ErrnoText(error), "; change ", what));
      }
    }
    close(fd);
  }
  freeaddrinfo(found);
  return status;
}

}  // namespace pktpool
