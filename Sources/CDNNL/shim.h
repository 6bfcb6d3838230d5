// oneDNN's C API (Debian's libdnnl-dev 2.6 ships no pkg-config file; headers in
// /usr/include/oneapi/dnnl, library libdnnl.so).
#include <oneapi/dnnl/dnnl.h>
