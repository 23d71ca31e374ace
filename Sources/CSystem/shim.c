/* The non-inline half of CSystem: things that need _GNU_SOURCE or a definition. */
#define _GNU_SOURCE
#include <sched.h>
#include "CSystem.h"

static int saved_argc;
static char **saved_argv;
static char **saved_envp;

#ifdef QCM_EMBEDDED
/* Embedded Swift has no CommandLine: the process's main is this one, which keeps the
 * arguments and calls Swift's (the daemon's top-level code, compiled with
 * -entry-point-function-name qcm_swift_main). Any C library calls main this way; glibc's
 * habit of also passing them to ELF constructors, which musl does not share, is not needed. */
extern int qcm_swift_main(int argc, char **argv);
int main(int argc, char **argv) {
    saved_argc = argc;
    saved_argv = argv;
    saved_envp = environ;
    return qcm_swift_main(argc, argv);
}
#else
/* glibc passes (argc, argv, envp) to ELF constructors: the SwiftPM build's tests and tools
 * read the arguments this way too. */
__attribute__((constructor))
static void csys_capture_args(int argc, char **argv, char **envp) {
    saved_argc = argc;
    saved_argv = argv;
    saved_envp = envp;
}
#endif

int csys_argc(void) { return saved_argc; }
char *const *csys_argv(void) { return saved_argv; }
char *const *csys_environ(void) { return environ ? environ : saved_envp; }

int csys_unshare_net(void) { return unshare(CLONE_NEWNET); }
int csys_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }

#include <sys/prctl.h>

/* fork/exec for the one case posix_spawn cannot do: PR_SET_PDEATHSIG in the child. An exec
 * failure comes back through a close-on-exec pipe. */
static int spawn_die_with_parent(const char *path, char *const argv[], char *const envp[],
                                 int stdin_fd, int stdout_fd, int stderr_fd, int own_group, pid_t *pid) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) { int e = errno; close(report[0]); close(report[1]); errno = e; return -1; }
    if (child == 0) {
        sigset_t none;
        sigemptyset(&none);
        int sigs[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP };
        for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
        if (own_group) setpgid(0, 0);
        if (stdin_fd >= 0) dup2(stdin_fd, 0);
        if (stdout_fd >= 0) dup2(stdout_fd, 1);
        if (stderr_fd >= 0) dup2(stderr_fd, 2);
        execve(path, argv, envp);
        int e = errno;
        ssize_t ignored = write(report[1], &e, sizeof e);
        (void)ignored;
        _exit(127);
    }
    close(report[1]);
    int e = 0;
    ssize_t n;
    do { n = read(report[0], &e, sizeof e); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof e) {
        int status;
        waitpid(child, &status, 0);
        errno = e;
        return -1;
    }
    *pid = child;
    return 0;
}

int csys_spawn(const char *path, char *const argv[], char *const envp[],
               int stdin_fd, int stdout_fd, int stderr_fd, int flags, pid_t *pid) {
    int own_group = (flags & CSYS_SPAWN_OWN_GROUP) != 0;
    if (flags & CSYS_SPAWN_DIE_WITH_PARENT)
        return spawn_die_with_parent(path, argv, envp, stdin_fd, stdout_fd, stderr_fd, own_group, pid);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    int rc;

    posix_spawn_file_actions_init(&fa);
    if (stdin_fd >= 0) posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
    if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
    if (stderr_fd >= 0) posix_spawn_file_actions_adddup2(&fa, stderr_fd, 2);

    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGHUP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    short sflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (own_group) {
        sflags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&attr, 0);
    }
    posix_spawnattr_setflags(&attr, sflags);

    rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) { errno = rc; return -1; }
    return 0;
}

int csys_peer_cred(int fd, int *pid, unsigned *uid, unsigned *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int csys_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

/* Opens path without blocking (a FIFO or a device cannot stall qcm) and keeps it only when
 * it is a regular file, or with allow_fifo a FIFO; anything else is EINVAL. */
static int open_file_of_kind(const char *path, int flags, int allow_fifo) {
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return -1; }
    if (!(S_ISREG(st.st_mode) || (allow_fifo && S_ISFIFO(st.st_mode)))) { close(fd); errno = EINVAL; return -1; }
    return fd;
}

ssize_t csys_read_file(const char *path, void *buf, size_t cap) {
    int fd = open_file_of_kind(path, O_RDONLY, 0);
    if (fd < 0) return -1;
    size_t total = 0;
    while (total < cap) {
        ssize_t n = read(fd, (char *)buf + total, cap - total);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno; close(fd); errno = e;
            return -1;
        }
        if (n == 0) break;
        total += (size_t)n;
    }
    close(fd);
    return (ssize_t)total;
}

static int write_all(int fd, const void *data, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

int csys_write_file_atomic(const char *path, const void *data, size_t len, int mode) {
    /* DIR/.NAME.qcm-XXXXXX beside DIR/NAME, put together by hand: snprintf would bring the
     * C library's whole printf (9 KB of a static binary) for this one name. */
    static const char suffix[] = ".qcm-XXXXXX";
    char tmp[4096];
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
    size_t namelen = strlen(path + dirlen);
    if (dirlen + 1 + namelen + sizeof suffix > sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, dirlen);
    tmp[dirlen] = '.';
    memcpy(tmp + dirlen + 1, path + dirlen, namelen);
    memcpy(tmp + dirlen + 1 + namelen, suffix, sizeof suffix);
    int fd = mkostemp(tmp, O_CLOEXEC);   /* O_CREAT|O_EXCL: never an existing file or link */
    if (fd < 0) return -1;
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno; close(fd); unlink(tmp); errno = e;
        return -1;
    }
    if (close(fd) != 0) { int e = errno; unlink(tmp); errno = e; return -1; }
    if (rename(tmp, path) != 0) { int e = errno; unlink(tmp); errno = e; return -1; }
    return 0;
}

int csys_write_file_in_place(const char *path, const void *data, size_t len) {
    int fd = open_file_of_kind(path, O_WRONLY | O_NOFOLLOW, 0);
    if (fd < 0) return -1;
    if (ftruncate(fd, 0) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno; close(fd); errno = e;
        return -1;
    }
    return close(fd);
}

int csys_write_attribute(const char *path, const void *data, size_t len) {
    /* sysfs attributes are regular files; a FIFO is how qmi-sim stands in for one, so that
     * it sees every write the way the driver's store() does. Nothing else is written to. */
    int fd = open_file_of_kind(path, O_WRONLY, 1);
    if (fd < 0) return -1;
    ssize_t n;
    do { n = write(fd, data, len); } while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0) { errno = e; return -1; }
    if ((size_t)n != len) { errno = EIO; return -1; }
    return 0;
}

int csys_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

/* ceil() without libm, for the Embedded build (see below); tested against libm's. */
double csys_ceil(double x) {
    if (x == 0.0 || !(x > -4503599627370496.0 && x < 4503599627370496.0)) return x;   /* ±0, NaN, ±inf, |x| >= 2^52 */
    double t = (double)(long long)x;                                                  /* toward zero */
    if (t < x) t += 1.0;
    return (t == 0.0 && x < 0.0) ? -0.0 : t;
}

#ifdef QCM_EMBEDDED
/* The Embedded stdlib's Dictionary sizing (_HashTable.scale(forCapacity:)) rounds a Double
   up with ceil(), on targets without a rounding instruction (x86-64 baseline, ARMv7). It is
   the only libm function the daemon uses, and mapping libm for it costs about 380 KB of
   resident memory, so scripts/build-embedded links libm only as needed and this provides it. */
double ceil(double x) { return csys_ceil(x); }
#endif

/* ---- GobiNet ---- */
static void csys_alarm_noop(int sig) { (void)sig; }

int csys_gobinet_get_service_file(int fd, int service, int timeout_ms) {
    /* SIGALRM without SA_RESTART: the ioctl returns EINTR when the timer fires. qcm blocks
     * only the signals it reads through its signalfd, never SIGALRM. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = csys_alarm_noop;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, &old) != 0) return -1;
    struct itimerval t, off;
    memset(&t, 0, sizeof(t));
    memset(&off, 0, sizeof(off));
    t.it_value.tv_sec = timeout_ms / 1000;
    t.it_value.tv_usec = (timeout_ms % 1000) * 1000;
    setitimer(ITIMER_REAL, &t, NULL);
    int rc = ioctl(fd, CSYS_GOBINET_GET_SERVICE_FILE, (unsigned long)service);
    int e = errno;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    if (rc != 0 && e == EINTR) e = ETIMEDOUT;
    errno = e;
    return rc == 0 ? 0 : -1;
}

int csys_open_pty(char *name, size_t cap) {
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (grantpt(fd) != 0 || unlockpt(fd) != 0 || ptsname_r(fd, name, cap) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

#include <netinet/icmp6.h>

int csys_icmp6_socket(int ifindex, int accept_type, int join_routers) {
    int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    if (fd < 0) return -1;
    int hops = 255, off = 0, on = 1;
    char name[IF_NAMESIZE];
    struct icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(accept_type, &filter);
    if (if_indextoname((unsigned)ifindex, name) == NULL
        || setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strlen(name)) != 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) != 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off) != 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) != 0
        || setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) != 0
        || setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    if (join_routers) {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        inet_pton(AF_INET6, "ff02::2", &m.ipv6mr_multiaddr);
        m.ipv6mr_interface = (unsigned)ifindex;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) != 0) { int e = errno; close(fd); errno = e; return -1; }
    }
    return fd;
}

ssize_t csys_icmp6_send(int fd, int ifindex, const uint8_t *dest, const void *buf, size_t len) {
    struct sockaddr_in6 to;
    memset(&to, 0, sizeof to);
    to.sin6_family = AF_INET6;
    memcpy(&to.sin6_addr, dest, 16);
    if (IN6_IS_ADDR_LINKLOCAL(&to.sin6_addr) || IN6_IS_ADDR_MULTICAST(&to.sin6_addr)) to.sin6_scope_id = (uint32_t)ifindex;
    return sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to);
}

ssize_t csys_icmp6_recv(int fd, void *buf, size_t cap, uint8_t *source, int *hop_limit) {
    struct sockaddr_in6 from;
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return -1;
    memcpy(source, &from.sin6_addr, 16);
    *hop_limit = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) memcpy(hop_limit, CMSG_DATA(c), sizeof(int));
    }
    return n;
}
