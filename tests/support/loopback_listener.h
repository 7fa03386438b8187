// A TCP port that is taken: a socket listening on 127.0.0.1 at a port the kernel chose,
// for tests of what happens when an address is in use.
#ifndef PKTPOOL_TESTS_SUPPORT_LOOPBACK_LISTENER_H_
#define PKTPOOL_TESTS_SUPPORT_LOOPBACK_LISTENER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pktpool::testing {

// Listens from construction until Close or destruction. Not thread-safe.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(fd_, 1) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      Close();
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  ~LoopbackListener() { Close(); }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  // The port it listens on; 0 when it could not listen.
  int port() const { return port_; }
  // Stops listening: the port is free again.
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace pktpool::testing

#endif  // PKTPOOL_TESTS_SUPPORT_LOOPBACK_LISTENER_H_
