#ifndef CVSEG_DNNL_LOADER_H
#define CVSEG_DNNL_LOADER_H

/// Opens oneDNN on first call (thread-safe; later calls return the first result). Returns 1 when
/// the library and every function cvseg uses are there; otherwise 0, with `*message` (when
/// `message` is not NULL) set to a static text that says what is missing.
int cvseg_dnnl_load(const char **message);

#endif
