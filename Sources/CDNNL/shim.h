// oneDNN's C API (Debian's libdnnl-dev 2.6 ships no pkg-config file; headers in
// /usr/include/oneapi/dnnl). Headers only: the library is opened on first use by CVSegDNNLLoader.
#include <oneapi/dnnl/dnnl.h>
