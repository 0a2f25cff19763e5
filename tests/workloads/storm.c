/* Fork+exec+exit storm: runs PROGRAM (default /bin/true) in a loop for SECONDS, at most RATE
 * times a second when RATE is given and not 0 (default: as fast as it can), with one argument of
 * ARG_BYTES bytes when given (large exec records), then prints "<own pid> <children run>".
 * Used by the storm and burst tests and scripts/bench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
	if (argc < 2) {
		fprintf(stderr, "usage: %s SECONDS [PROGRAM [RATE [ARG_BYTES]]]\n", argv[0]);
		return 2;
	}
	double seconds = atof(argv[1]);
	const char *program = argc > 2 ? argv[2] : "/bin/true";
	double rate = argc > 3 ? atof(argv[3]) : 0;
	long arg_bytes = argc > 4 ? atol(argv[4]) : 0;
	char *arg = NULL;
	if (arg_bytes > 0) {
		arg = malloc(arg_bytes + 1);
		if (arg == NULL) {
			perror("malloc");
			return 1;
		}
		memset(arg, 'x', arg_bytes);
		arg[arg_bytes] = '\0';
	}
	double start = now();
	double end = start + seconds;
	long runs = 0;
	while (now() < end) {
		if (rate > 0) {
			double due = start + runs / rate;
			double wait = due - now();
			if (wait > 0) {
				struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
				nanosleep(&ts, NULL);
			}
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execl(program, program, arg, (char *)NULL);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) < 0) {
			perror("waitpid");
			return 1;
		}
		runs++;
	}
	printf("%d %ld\n", getpid(), runs);
	return 0;
}
