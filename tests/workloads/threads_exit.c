/* Threads that end together: starts THREADS threads that spin, then exits the process with CODE
 * (exit_group: the kernel ends every thread at once, on every CPU). The sensor must report the
 * process's end exactly once. Usage: threads_exit THREADS CODE [MARKER]. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_int running;

static void *spin(void *unused)
{
	(void)unused;
	atomic_fetch_add(&running, 1);
	for (;;)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s THREADS CODE [MARKER]\n", argv[0]);
		return 2;
	}
	int threads = atoi(argv[1]);
	for (int i = 0; i < threads; i++) {
		pthread_t thread;
		if (pthread_create(&thread, NULL, spin, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	while (atomic_load(&running) < threads)
		;
	exit(atoi(argv[2]));
}
