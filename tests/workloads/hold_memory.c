/* hold_memory MIB: allocate MIB mebibytes, touch every page, and hold them until killed.
   Built static so it runs in the busybox test image. */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    size_t bytes = (size_t)atoi(argv[1]) << 20;
    /* volatile: a store the program never reads back may otherwise be optimised away */
    volatile char *memory = malloc(bytes);
    if (memory == NULL) return 1;
    for (size_t i = 0; i < bytes; i += 4096) memory[i] = 1;
    for (;;) pause();
}
