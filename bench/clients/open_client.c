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
 * Prints "opened N in S s" once every welcome is in; exits 1 on any
 * failure, saying which.
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

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: open_client PORT N NET HOSTS BATCH HOLD\n");
        return 2;
    }
    int port = atoi(argv[1]), hosts = atoi(argv[4]), batch = atoi(argv[5]), hold = atoi(argv[6]);
    long n = atol(argv[2]);
    const char *net = argv[3];
    int ep = epoll_create1(0), one = 1;
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(port)};
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct epoll_event events[1024];
    long made = 0, opened = 0;
    double start = now();
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
    printf("opened %ld in %.3f s\n", opened, now() - start);
    fflush(stdout);
    sleep(hold);
    return 0;
}
