/*
 * CSystem — the only door from qcm's Swift code to libc and the Linux headers.
 *
 * Glibc cannot be imported by Embedded Swift, so every daemon module imports this
 * module instead. It holds system headers plus thin static inline wrappers for what
 * Swift cannot call directly: errno, variadic functions (open, fcntl, ioctl), macros,
 * and sockaddr set-up that would otherwise mean poking at C arrays from Swift.
 * No policy lives here; keep it small.
 */
#ifndef CSYSTEM_H
#define CSYSTEM_H

/* 32-bit targets (armv7): 64-bit file offsets/inodes (stat and readdir otherwise fail with
 * EOVERFLOW on large filesystems) and a 64-bit time_t. Only there: on 64-bit targets the
 * headers must stay identical to the ones the Glibc module saw. */
#if __SIZEOF_LONG__ == 4
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#ifndef _TIME_BITS
#define _TIME_BITS 64
#endif
#endif

#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <dirent.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/signalfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/filter.h>
#include <termios.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- process arguments and environment (captured by a constructor in shim.c) ---- */
int csys_argc(void);
char *const *csys_argv(void);
char *const *csys_environ(void);

/* ---- errno ---- */
static inline int csys_errno(void) { return errno; }
static inline void csys_set_errno(int e) { errno = e; }

/* ---- variadic libc calls Swift cannot import ---- */
static inline int csys_open(const char *path, int flags, int mode) { return open(path, flags | O_CLOEXEC, (mode_t)mode); }
static inline int csys_set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}
static inline int csys_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

/* ---- file kinds (S_IS* are macros) ---- */
enum { CSYS_NONE = 0, CSYS_FILE = 1, CSYS_DIR = 2, CSYS_SOCKET = 3, CSYS_CHARDEV = 4, CSYS_OTHER = 5 };
/* Follows symlinks, like stat(2). Returns CSYS_NONE (errno set) when absent. */
static inline int csys_file_kind(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return CSYS_NONE;
    if (S_ISREG(st.st_mode)) return CSYS_FILE;
    if (S_ISDIR(st.st_mode)) return CSYS_DIR;
    if (S_ISSOCK(st.st_mode)) return CSYS_SOCKET;
    if (S_ISCHR(st.st_mode)) return CSYS_CHARDEV;
    return CSYS_OTHER;
}
static inline int csys_is_symlink(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}
/* lstat(2) digested: kind (CSYS_*, or CSYS_SYMLINK for a link itself), permission bits
 * (with setuid/setgid/sticky), owner. 0, or -1 with errno set. */
enum { CSYS_SYMLINK = 6, CSYS_FIFO = 7 };
struct csys_file_info { int kind; unsigned mode; unsigned uid; long long size; unsigned long long dev; unsigned long long ino; };
static inline int csys_kind_of(mode_t m) {
    if (S_ISREG(m)) return CSYS_FILE;
    if (S_ISDIR(m)) return CSYS_DIR;
    if (S_ISSOCK(m)) return CSYS_SOCKET;
    if (S_ISCHR(m)) return CSYS_CHARDEV;
    if (S_ISLNK(m)) return CSYS_SYMLINK;
    if (S_ISFIFO(m)) return CSYS_FIFO;
    return CSYS_OTHER;
}
static inline int csys_lstat_info(const char *path, struct csys_file_info *out) {
    struct stat st;
    if (lstat(path, &st) != 0) return -1;
    out->kind = csys_kind_of(st.st_mode);
    out->mode = (unsigned)(st.st_mode & 07777);
    out->uid = (unsigned)st.st_uid;
    out->size = (long long)st.st_size;
    out->dev = (unsigned long long)st.st_dev;
    out->ino = (unsigned long long)st.st_ino;
    return 0;
}
static inline int csys_fstat_info(int fd, struct csys_file_info *out) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    out->kind = csys_kind_of(st.st_mode);
    out->mode = (unsigned)(st.st_mode & 07777);
    out->uid = (unsigned)st.st_uid;
    out->size = (long long)st.st_size;
    out->dev = (unsigned long long)st.st_dev;
    out->ino = (unsigned long long)st.st_ino;
    return 0;
}
static inline int csys_is_executable(const char *path) { return access(path, X_OK) == 0; }
static inline const char *csys_dirent_name(const struct dirent *d) { return d->d_name; }

/* ---- whole files (shim.c) ---- */
/* Reads up to cap bytes of a regular file into buf; returns the count, or -1 with errno set.
 * Opened O_NONBLOCK|O_NOFOLLOW-free but checked with fstat: anything that is not a regular
 * file (a FIFO, a device) fails with EINVAL instead of blocking. */
ssize_t csys_read_file(const char *path, void *buf, size_t cap);
/* Writes data to a fresh temporary file beside path (O_EXCL, so a planted file or symlink
 * is never followed), fsyncs it and renames it over path (a symlink at path is replaced,
 * not followed). 0, or -1 with errno set (EBUSY/EXDEV when path is a mount point). */
int csys_write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* Rewrites an existing regular file in place (O_TRUNC, O_NOFOLLOW): for files that cannot be
 * replaced by rename, such as a bind-mounted /etc/resolv.conf in a container. */
int csys_write_file_in_place(const char *path, const void *data, size_t len);
/* Writes data to an existing attribute file (sysfs): no O_CREAT, no O_TRUNC. */
int csys_write_attribute(const char *path, const void *data, size_t len);

/* ---- address text (RFC 5952 for IPv6), via inet_ntop/inet_pton ---- */
/* bytes: 4 or 16 bytes in network order; out must hold 46 bytes. 0 or -1. */
static inline int csys_address_text(const uint8_t *bytes, int length, char *out) {
    return inet_ntop(length == 4 ? AF_INET : AF_INET6, bytes, out, 46) ? 0 : -1;
}
/* Parses dotted IPv4 (length 4) or IPv6 text (length 16) into out; 1 on success. */
static inline int csys_address_parse(const char *text, int length, uint8_t *out) {
    return inet_pton(length == 4 ? AF_INET : AF_INET6, text, out) == 1;
}

/* ---- clocks ---- */
static inline int64_t csys_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static inline int64_t csys_realtime_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static inline void csys_sleep_ms(int64_t ms) {
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
/* Local broken-down time of a realtime millisecond stamp (for log timestamps). */
static inline void csys_localtime(int64_t ms, struct tm *out) {
    time_t t = (time_t)(ms / 1000);
    localtime_r(&t, out);
}

/* ---- signals: block the given signals and return a signalfd that reports them ---- */
static inline int csys_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
static inline int csys_unblock_all_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    return sigprocmask(SIG_SETMASK, &set, NULL);
}
static inline int csys_ignore_sigpipe(void) { return signal(SIGPIPE, SIG_IGN) == SIG_ERR ? -1 : 0; }
/* A signal with a value (qcm -k N to a qcm serving several PDNs: SIGUSR1 carrying N). */
static inline int csys_sigqueue(pid_t pid, int sig, int value) {
    union sigval v;
    v.sival_int = value;
    return sigqueue(pid, sig, v);
}

/* ---- processes ---- */
/* Starts path with stdin/stdout/stderr redirected (-1 keeps the parent's) and a clean
 * signal mask. Flags: CSYS_SPAWN_OWN_GROUP puts it in a process group of its own (a
 * terminal's Ctrl-C does not reach it); CSYS_SPAWN_DIE_WITH_PARENT has the kernel send it
 * SIGTERM when the calling process dies, even by SIGKILL (PR_SET_PDEATHSIG). 0, or -1 with
 * errno set (also when exec fails). */
enum { CSYS_SPAWN_OWN_GROUP = 1, CSYS_SPAWN_DIE_WITH_PARENT = 2 };
int csys_spawn(const char *path, char *const argv[], char *const envp[],
               int stdin_fd, int stdout_fd, int stderr_fd, int flags, pid_t *pid);
static inline int csys_wait_status_exited(int status) { return WIFEXITED(status); }
static inline int csys_wait_status_code(int status) { return WEXITSTATUS(status); }
static inline int csys_wait_status_signal(int status) { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }

/* ---- namespaces (need _GNU_SOURCE, so they live in shim.c) ---- */
int csys_unshare_net(void);
int csys_setns_net(int fd);

/* ---- AF_UNIX ---- */
/* name starting with '@' means the abstract namespace (as ss(8) prints it). A name that does
 * not fit sun_path is refused (0, errno ENAMETOOLONG), never cut short: a truncated name is
 * another socket. */
static inline socklen_t csys_unix_addr(struct sockaddr_un *sa, const char *name) {
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (n >= sizeof(sa->sun_path)) { errno = ENAMETOOLONG; return 0; }
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@') sa->sun_path[0] = 0;
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '@' ? 0 : 1));
}
/* The longest socket path csys_unix_addr takes. */
enum { CSYS_UNIX_PATH_MAX = sizeof(((struct sockaddr_un *)0)->sun_path) - 1 };
/* Who is behind a connected AF_UNIX socket (SO_PEERCRED): for a client, the process that
 * called listen(); for a server, the one that called connect(). */
int csys_peer_cred(int fd, int *pid, unsigned *uid, unsigned *gid);   /* struct ucred needs _GNU_SOURCE: shim.c */
static inline int csys_unix_connect(const char *name) {
    struct sockaddr_un sa;
    socklen_t len = csys_unix_addr(&sa, name);
    if (len == 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, len) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}
static inline int csys_unix_listen(const char *name, int backlog) {
    struct sockaddr_un sa;
    socklen_t len = csys_unix_addr(&sa, name);
    if (len == 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, backlog) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}
/* Bytes written to a connected AF_UNIX stream socket that its peer has not read yet
 * (SIOCOUTQ, which is TIOCOUTQ: the send buffer the peer's unread data still holds); -1 with
 * errno set when the socket cannot say. Quectel's proxies read one message per read(2), so a
 * client writes its next message only once this is 0. */
static inline int csys_unread_output(int fd) {
    int n = 0;
    return ioctl(fd, TIOCOUTQ, &n) == 0 ? n : -1;
}
/* A stream socket made now and bound later (the simulator's proxies: made in the caller's
 * network namespace, where abstract names live, and listening only once the proxy has its
 * device, as Quectel's do). */
static inline int csys_unix_stream_socket(void) { return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); }
static inline int csys_unix_bind_listen(int fd, const char *name, int backlog) {
    struct sockaddr_un sa;
    socklen_t len = csys_unix_addr(&sa, name);
    if (len == 0) return -1;
    return bind(fd, (struct sockaddr *)&sa, len) == 0 && listen(fd, backlog) == 0 ? 0 : -1;
}
/* SOCK_SEQPACKET Unix sockets keep message boundaries, like GobiNet's qcqmi device: the
 * simulator's stand-in for it. */
static inline int csys_unix_connect_seqpacket(const char *name) {
    struct sockaddr_un sa;
    socklen_t len = csys_unix_addr(&sa, name);
    if (len == 0) return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, len) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}
static inline int csys_unix_listen_seqpacket(const char *name, int backlog) {
    struct sockaddr_un sa;
    socklen_t len = csys_unix_addr(&sa, name);
    if (len == 0) return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, backlog) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

/* ---- GobiNet (Quectel GobiNet V1.6.x QMIDevice.h): ioctls on /dev/qcqmiN. The numbers are
 * plain integers (not _IO()), the argument of GET_SERVICE_FILE is the QMI service number
 * itself. ---- */
#define CSYS_GOBINET_IOCTL_BASE 0x8BE0
#define CSYS_GOBINET_GET_SERVICE_FILE (CSYS_GOBINET_IOCTL_BASE + 1)
#define CSYS_GOBINET_GET_DEVICE_VIDPID (CSYS_GOBINET_IOCTL_BASE + 2)
#define CSYS_GOBINET_GET_DEVICE_MEID (CSYS_GOBINET_IOCTL_BASE + 3)
/* Binds `fd` to a client id of `service`. The driver asks the modem and waits for its answer
 * without a timeout; an interval timer interrupts it after timeout_ms (errno ETIMEDOUT). */
int csys_gobinet_get_service_file(int fd, int service, int timeout_ms);

/* pipe2(O_CLOEXEC): children only get the ends dup2ed onto their stdio (shim.c) */
int csys_pipe_cloexec(int fds[2]);
/* ceil() without libm (the Embedded build defines ceil with it; see shim.c). */
double csys_ceil(double x);
/* accept4 with CLOEXEC|NONBLOCK (needs _GNU_SOURCE: shim.c) */
int csys_accept(int fd);
static inline int csys_unix_dgram_send(const char *name, const void *buf, size_t len) {
    struct sockaddr_un sa;
    socklen_t alen = csys_unix_addr(&sa, name);
    if (alen == 0) return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    ssize_t n = sendto(fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, alen);
    int e = errno; close(fd); errno = e;
    return n < 0 ? -1 : 0;
}

/* SO_RCVTIMEO is a macro that depends on the time_t ABI on 32-bit targets. */
static inline int csys_set_receive_timeout(int fd, int seconds) {
    struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* ---- AF_NETLINK (rtnetlink) ---- */
static inline int csys_netlink_open(int protocol) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) return -1;
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) { int e = errno; close(fd); errno = e; return -1; }
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));   /* best effort: older kernels lack it */
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    return fd;
}
static inline ssize_t csys_netlink_send(int fd, const void *buf, size_t len) {
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    return sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa));
}

/* ---- AF_PACKET (DHCP before the link has an address) ---- */
static inline int csys_packet_open(int ifindex, uint16_t ethertype) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, (int)htons(ethertype));
    if (fd < 0) return -1;
    struct sockaddr_ll sa;
    memset(&sa, 0, sizeof(sa));
    sa.sll_family = AF_PACKET;
    sa.sll_protocol = htons(ethertype);
    sa.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}
static inline int csys_attach_filter(int fd, struct sock_filter *code, unsigned short count) {
    struct sock_fprog prog = { .len = count, .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}
static inline ssize_t csys_packet_send(int fd, int ifindex, const uint8_t *dest_mac, uint16_t ethertype,
                                       const void *buf, size_t len) {
    struct sockaddr_ll sa;
    memset(&sa, 0, sizeof(sa));
    sa.sll_family = AF_PACKET;
    sa.sll_protocol = htons(ethertype);
    sa.sll_ifindex = ifindex;
    sa.sll_halen = 6;
    memcpy(sa.sll_addr, dest_mac, 6);
    return sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa));
}

/* ---- interface ioctls ---- */
static inline int csys_if_hwaddr(const char *ifname, uint8_t out[6], int *arphrd) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
    int e = errno; close(fd); errno = e;
    if (rc != 0) return -1;
    memcpy(out, ifr.ifr_hwaddr.sa_data, 6);
    if (arphrd) *arphrd = ifr.ifr_hwaddr.sa_family;
    return 0;
}
/* Flags and MTU of an interface, through a socket `fd` of the namespace to look in. */
static inline int csys_if_flags_mtu(int fd, const char *ifname, unsigned *flags, unsigned *mtu) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) return -1;
    *flags = (unsigned short)ifr.ifr_flags;
    if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) return -1;
    *mtu = (unsigned)ifr.ifr_mtu;
    return 0;
}
/* A serial port as an AT channel wants it: raw (no echo, no line editing, no CR/LF
 * translation, 8 bits), 115200 baud (a USB serial port ignores the rate), the modem lines
 * ignored (CLOCAL), then anything queued either way dropped. 0, or -1 with errno set
 * (ENOTTY: not a terminal). */
static inline int csys_tty_raw(int fd) {
    struct termios t;
    if (tcgetattr(fd, &t) != 0) return -1;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    if (tcsetattr(fd, TCSANOW, &t) != 0) return -1;
    tcflush(fd, TCIOFLUSH);
    return 0;
}
/* ICMPv6 on one interface (shim.c), for Router Advertisements: a raw socket bound to
 * ifindex, hop limit 255 both ways (RFC 4861 drops anything else), its own multicast not looped
 * back, only ICMPv6 type `accept_type` let in (133 Router Solicitation on a LAN qcm advertises
 * on; 134 Router Advertisement on the mobile link), and all-routers (ff02::2) joined when
 * join_routers. The kernel fills in the checksum. Returns the fd (non-blocking), or -1 with errno. */
int csys_icmp6_socket(int ifindex, int accept_type, int join_routers);
/* Sends an ICMPv6 message to dest (16 bytes; scoped to ifindex when link-local or multicast). */
ssize_t csys_icmp6_send(int fd, int ifindex, const uint8_t *dest, const void *buf, size_t len);
/* Receives one ICMPv6 message: its source (16 bytes) and the hop limit it arrived with (-1 when
 * the kernel did not say). The count, or -1 with errno. */
ssize_t csys_icmp6_recv(int fd, void *buf, size_t cap, uint8_t *source, int *hop_limit);
/* A pseudo-terminal pair (shim.c), for tests and the simulator's AT port: returns the master
 * fd (non-blocking, close-on-exec) and writes the slave's path into name; -1 with errno. */
int csys_open_pty(char *name, size_t cap);
/* Create (or attach to) a TUN/TAP device; returns the fd that carries its packets. */
static inline int csys_tun_open(const char *ifname, int flags) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_flags = (short)flags;
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}
/* Carrier of a TUN/TAP device (TUNSETCARRIER is an _IOW macro Swift cannot import; Linux
 * >= 5.0). 0, or -1 with errno set: EINVAL from older kernels. */
static inline int csys_tun_set_carrier(int fd, int on) {
#ifdef TUNSETCARRIER
    return ioctl(fd, TUNSETCARRIER, &on);
#else
    (void)fd; (void)on;
    errno = EINVAL;
    return -1;
#endif
}

#ifdef __cplusplus
}
#endif

#endif /* CSYSTEM_H */
