#define _GNU_SOURCE
/* The client-side yardstick for opening connections: a minimal C client
 * that opens N connections to a greeting server and reads each one's
 * welcome, BATCH connects at a time (as `bench hold --open-batch`), from
 * the hosts NET.1 to NET.HOSTS in turn with the port picked at connect
 * time (IP_BIND_ADDRESS_NO_PORT, as `--source`), then holds them for
 * HOLD seconds. One thread, no limits, nothing measured but the time to
 * open them all: it is a measuring stick for bench/million.sh
 * (YARDSTICK=c), not a tool.
 *
 *   cc -O2 -o open_client bench/clients/open_client.c
 *   ./open_client PORT N NET HOSTS BATCH HOLD    e.g. 9999 19000 127.5.0 14 8 10
 *
 * Prints "opened N in S s, from T0 to T1" once every welcome is in (T0
 * and T1 wall-clock Unix seconds, so that bench/million.sh measures the
 * union of all the clients' windows, as `bench merge` does); exits 1 on
 * any failure, saying which, and 2 on bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int port = argc == 7 ? atoi(argv[1]) : 0, hosts = argc == 7 ? atoi(argv[4]) : 0;
    int batch = argc == 7 ? atoi(argv[5]) : 0, hold = argc == 7 ? atoi(argv[6]) : -1;
    long n = argc == 7 ? atol(argv[2]) : 0;
    if (port < 1 || port > 65535 || n < 1 || hosts < 1 || hosts > 254 || batch < 1 || hold < 0) {
        fprintf(stderr, "usage: open_client PORT N NET HOSTS BATCH HOLD\n"
                        "  PORT 1-65535, N 1 or more, HOSTS 1-254, BATCH 1 or more, HOLD seconds\n");
        return 2;
    }
    const char *net = argv[3];
    int ep = epoll_create1(0), one = 1;
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(port)};
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct epoll_event events[1024];
    long made = 0, opened = 0;
    double start = now(CLOCK_MONOTONIC), wall_start = now(CLOCK_REALTIME);
    while (opened < n) {
        int waiting = 0;
        for (; waiting < batch && made < n; waiting++, made++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            char host[32];
            snprintf(host, sizeof host, "%s.%ld", net, 1 + made % hosts);
            struct sockaddr_in source = {.sin_family = AF_INET};
            if (fd < 0 || inet_pton(AF_INET, host, &source.sin_addr) != 1) {
                perror("socket");
                return 1;
            }
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (bind(fd, (struct sockaddr *)&source, sizeof source) ||
                (connect(fd, (struct sockaddr *)&server, sizeof server) && errno != EINPROGRESS)) {
                perror(host);
                return 1;
            }
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        while (waiting > 0) {
            int k = epoll_wait(ep, events, 1024, 10000);
            if (k <= 0) {
                fprintf(stderr, "no welcome within 10 s (%ld opened)\n", opened);
                return 1;
            }
            for (int i = 0; i < k; i++) {
                char welcome[64];
                ssize_t r = read(events[i].data.fd, welcome, sizeof welcome);
                if (r != 9 || memcmp(welcome, "Welcome!\n", 9) != 0) {
                    fprintf(stderr, "no welcome: read gave %zd (%ld opened)\n", r, opened);
                    return 1;
                }
                /* Held from here on, and never read again. */
                struct epoll_event none = {0};
                epoll_ctl(ep, EPOLL_CTL_MOD, events[i].data.fd, &none);
                waiting--;
                opened++;
            }
        }
    }
    double took = now(CLOCK_MONOTONIC) - start;
    printf("opened %ld in %.3f s, from %.3f to %.3f\n", opened, took, wall_start, wall_start + took);
    fflush(stdout);
    sleep(hold);
    return 0;
}
