#ifndef CVSEG_CJPEG_SHIM_H
#define CVSEG_CJPEG_SHIM_H
// jpeglib.h uses FILE and size_t without including the headers that define them.
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
#endif
