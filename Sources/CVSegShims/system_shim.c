// Operating-system calls whose constants Swift's Glibc module does not expose.
#define _GNU_SOURCE
#include "cvseg_shims.h"

#include <errno.h>
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int cvseg_open_tmpfile(const char *dir) {
#ifdef O_TMPFILE
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#else
    (void)dir;
    errno = EOPNOTSUPP;
    return -1;
#endif
}

#if defined(__GLIBC__)
void cvseg_keep_buffers_in_heap(void) {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    mallopt(M_TOP_PAD, 64 << 20);
}
#else
void cvseg_keep_buffers_in_heap(void) {}
#endif
