/* File storm: for SECONDS, in DIR, either "write": create a file, write 4 bytes, rename it, unlink
 * it (three file events a round), or "read": open an existing file read-only and close it (none
 * sent by default); then prints "<own pid> <rounds>". Used by scripts/bench (bench_files.py). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	if (argc != 4 || (strcmp(argv[2], "write") != 0 && strcmp(argv[2], "read") != 0)) {
		fprintf(stderr, "usage: %s SECONDS write|read DIR\n", argv[0]);
		return 2;
	}
	double end = now() + atof(argv[1]);
	int writing = strcmp(argv[2], "write") == 0;
	char name[4096], renamed[4096];
	snprintf(name, sizeof(name), "%s/f.%d", argv[3], getpid());
	snprintf(renamed, sizeof(renamed), "%s/g.%d", argv[3], getpid());
	if (!writing) {
		int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror(name);
			return 1;
		}
		close(fd);
	}
	long rounds = 0;
	while (now() < end) {
		for (int i = 0; i < 64; i++, rounds++) {
			if (writing) {
				int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
				if (fd < 0 || write(fd, "data", 4) != 4 || close(fd) != 0 || rename(name, renamed) != 0 ||
				    unlink(renamed) != 0) {
					perror(name);
					return 1;
				}
			} else {
				int fd = open(name, O_RDONLY);
				if (fd < 0) {
					perror(name);
					return 1;
				}
				close(fd);
			}
		}
	}
	if (!writing)
		unlink(name);
	printf("%d %ld\n", getpid(), rounds);
	return 0;
}
