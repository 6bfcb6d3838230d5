#ifndef CVSEG_CPNG_SHIM_H
#define CVSEG_CPNG_SHIM_H
#include <png.h>
#endif
