/* LD_PRELOAD shim for benches/tiles_s3.sh: sets TCP_NODELAY on the sockets a server accepts.
 * s3s-fs (the S3 server the bench starts) leaves Nagle's algorithm on; when it writes a
 * response's head and body in two writes, the body waits for the client's delayed ACK (40 ms
 * on Linux). Production S3 servers (MinIO, Ceph RGW, AWS) answer with TCP_NODELAY set; this
 * gives s3s-fs the same setting so that the bench measures the servers, not Nagle. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void no_delay(int fd) {
  int on = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = dlsym(RTLD_NEXT, "accept");
  int client = real(fd, addr, len);
  no_delay(client);
  return client;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = dlsym(RTLD_NEXT, "accept4");
  int client = real(fd, addr, len, flags);
  no_delay(client);
  return client;
}
