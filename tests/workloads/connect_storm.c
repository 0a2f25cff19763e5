/* Connect storm: for SECONDS, on 127.0.0.1, connect to a listener of its own, accept, and close both
 * ends (the client first, with SO_LINGER 0: a reset, so no TIME_WAIT uses up the ports); then prints
 * "<own pid> <rounds>". A round is four network events: connect, accept, and each end's close. Used by
 * scripts/bench (bench_network.py). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
		return 2;
	}
	double end = now() + atof(argv[1]);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 64) ||
	    getsockname(listener, (struct sockaddr *)&addr, &len)) {
		perror("listener");
		return 1;
	}
	struct linger reset = {.l_onoff = 1, .l_linger = 0};
	long rounds = 0;
	while (now() < end) {
		for (int i = 0; i < 50; i++, rounds++) {
			int client = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(client, (struct sockaddr *)&addr, sizeof(addr))) {
				perror("connect");
				return 1;
			}
			int server = accept(listener, NULL, NULL);
			setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
			close(client);
			close(server);
		}
	}
	printf("%d %ld\n", getpid(), rounds);
	return 0;
}
