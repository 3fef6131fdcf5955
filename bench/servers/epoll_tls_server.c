#define _GNU_SOURCE
/* The C epoll yardstick (epoll_server.c) over TLS, with OpenSSL: the same
 * greeting protocol, single-threaded, level-triggered. After the
 * handshake it sends the welcome; for each readable event it decrypts
 * every record there is, answers every complete line NAME with
 * "Hello, NAME!\n", and sends all replies of the event in one TLS write;
 * "exit" closes. Set for speed as a C server tuned for it would be: read
 * ahead on (one read() takes every record waiting, where OpenSSL's
 * default reads each record's header and body apart), no renegotiation.
 * Like the plain one it is a measuring stick, not a server to deploy: a
 * write the socket does not take whole drops the client.
 *
 *   cc -O2 -o epoll_tls_server bench/servers/epoll_tls_server.c -lssl -lcrypto
 *   ./epoll_tls_server PORT CERT.pem KEY.pem
 *
 * (Debian: libssl-dev.) bench/tls.sh runs it beside `serve --tls`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
#define MAXFD 65536

struct client {
    SSL *ssl;
    int ready; /* handshake done, welcome sent */
    char *partial;
    size_t partial_len;
};

static struct client clients[MAXFD];

static void drop_client(int ep, int fd) {
    struct client *c = &clients[fd];
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    SSL_free(c->ssl);
    close(fd);
    free(c->partial);
    memset(c, 0, sizeof *c);
}

/* Writes all of `buf` as TLS records; 0 when the socket took it whole. */
static int send_all(SSL *ssl, const char *buf, size_t len) {
    size_t written = 0;
    return SSL_write_ex(ssl, buf, len, &written) == 1 && written == len ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT CERT.pem KEY.pem\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_read_ahead(ctx, 1);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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
    fprintf(stderr, "Waiting for TLS connections on 127.0.0.1:%d...\n", port);
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXFD) { close(c); continue; }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    clients[c].ssl = SSL_new(ctx);
                    SSL_set_fd(clients[c].ssl, c);
                    SSL_set_accept_state(clients[c].ssl);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            struct client *cl = &clients[fd];
            if (!cl->ready) {
                int r = SSL_do_handshake(cl->ssl);
                if (r != 1) {
                    if (SSL_get_error(cl->ssl, r) != SSL_ERROR_WANT_READ) drop_client(ep, fd);
                    continue;
                }
                cl->ready = 1;
                if (send_all(cl->ssl, "Welcome!\n", 9)) { drop_client(ep, fd); continue; }
                /* On to reading: records that came with the handshake's
                 * last flight may already be read ahead. */
            }
            /* Every record there is: read ahead may have taken several
             * from the socket at once, and level-triggered epoll will not
             * say so again for bytes OpenSSL already holds. Once OpenSSL
             * holds nothing more, stop, as the plain server does after its
             * one read(): epoll says when the socket has more, and another
             * read() now would most likely cost a system call for EAGAIN. */
            size_t have = cl->partial_len;
            if (have) memcpy(in, cl->partial, have);
            size_t len = have;
            int closed = 0;
            while (len < BUF) {
                size_t got = 0;
                if (SSL_read_ex(cl->ssl, in + len, BUF - len, &got) == 1) {
                    len += got;
                    if (!SSL_has_pending(cl->ssl)) break;
                    continue;
                }
                int e = SSL_get_error(cl->ssl, 0);
                if (e != SSL_ERROR_WANT_READ) closed = 1;
                break;
            }
            size_t start = 0, o = 0;
            int quit = 0;
            for (size_t j = have; j < len; j++) {
                if (in[j] != '\n') continue;
                size_t l = j - start;
                if (l == 4 && memcmp(in + start, "exit", 4) == 0) { quit = 1; break; }
                if (o + l + 16 > sizeof out) break;
                memcpy(out + o, "Hello, ", 7); o += 7;
                memcpy(out + o, in + start, l); o += l;
                memcpy(out + o, "!\n", 2); o += 2;
                start = j + 1;
            }
            if (o && send_all(cl->ssl, out, o)) { drop_client(ep, fd); continue; }
            if (quit || closed) { drop_client(ep, fd); continue; }
            free(cl->partial);
            cl->partial = NULL;
            cl->partial_len = len - start;
            if (cl->partial_len) {
                cl->partial = malloc(cl->partial_len);
                memcpy(cl->partial, in + start, cl->partial_len);
            }
        }
    }
}
