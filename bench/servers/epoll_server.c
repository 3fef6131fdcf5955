#define _GNU_SOURCE
/* A minimal single-threaded C epoll server for the greeting protocol, as
 * a yardstick: `tcpkit bench` must keep up with it (README, Performance).
 * Welcome on accept; for each read, every complete line NAME gets
 * "Hello, NAME!\n", all replies of the read in one write; "exit" closes.
 * No limits, no partial-write handling beyond dropping the client: it is
 * a measuring stick, not a server to deploy.
 *
 *   cc -O2 -o epoll_server bench/servers/epoll_server.c && ./epoll_server PORT
 *
 * With REUSEPORT=1 in its environment it sets SO_REUSEPORT, so that
 * several of them share one port (bench/million.sh, YARDSTICK=c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
#define MAXFD 65536

static char *partial[MAXFD];
static size_t partial_len[MAXFD];

static void drop_client(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(partial[fd]);
    partial[fd] = NULL;
    partial_len[fd] = 0;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 9999;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (getenv("REUSEPORT")) setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096)) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static char in[BUF + 1024], out[BUF * 4];
    struct epoll_event events[256];
    fprintf(stderr, "Waiting for connection on 127.0.0.1:%d...\n", port);
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXFD) { close(c); continue; }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    if (write(c, "Welcome!\n", 9) != 9) drop_client(ep, c);
                }
                continue;
            }
            size_t have = partial_len[fd];
            if (have) memcpy(in, partial[fd], have);
            ssize_t r = read(fd, in + have, BUF);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                drop_client(ep, fd);
                continue;
            }
            size_t len = have + (size_t)r, start = 0, o = 0;
            int quit = 0;
            for (size_t j = 0; j < len; j++) {
                if (in[j] != '\n') continue;
                size_t l = j - start;
                if (l == 4 && memcmp(in + start, "exit", 4) == 0) { quit = 1; break; }
                if (o + l + 16 > sizeof out) break;
                memcpy(out + o, "Hello, ", 7); o += 7;
                memcpy(out + o, in + start, l); o += l;
                memcpy(out + o, "!\n", 2); o += 2;
                start = j + 1;
            }
            if (o && write(fd, out, o) != (ssize_t)o) { drop_client(ep, fd); continue; }
            if (quit) { drop_client(ep, fd); continue; }
            free(partial[fd]);
            partial[fd] = NULL;
            partial_len[fd] = len - start;
            if (partial_len[fd]) {
                partial[fd] = malloc(partial_len[fd]);
                memcpy(partial[fd], in + start, partial_len[fd]);
            }
        }
    }
}
