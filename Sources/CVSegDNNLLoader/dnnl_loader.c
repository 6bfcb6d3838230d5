// oneDNN, loaded on first use. cvseg does not link libdnnl: the dynamic loader would map and
// initialise it (about 2 ms, with libgomp and the OpenCL loader) in every run, also of the
// commands that never touch a network. Instead, each oneDNN function cvseg calls is defined here
// with the header's own prototype (the compiler checks that they match) and forwards to the
// library's, opened with dlopen the first time any of them runs. When the library cannot be
// opened, the functions return dnnl_runtime_error (or 0 / NULL) and cvseg_dnnl_load says why.
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_version.h>

#include "cvseg_dnnl.h"

#define CVSEG_STRING2(x) #x
#define CVSEG_STRING(x) CVSEG_STRING2(x)
// The soname of the major version the headers describe (Debian's libdnnl-dev 2.6: libdnnl.so.2).
#define CVSEG_DNNL_SONAME "libdnnl.so." CVSEG_STRING(DNNL_VERSION_MAJOR)

// X(return type, name, (parameters), (arguments), value returned when the library is missing)
#define CVSEG_DNNL_FUNCTIONS(X) \
    X(dnnl_status_t, dnnl_batch_normalization_backward_desc_init, \
        (dnnl_batch_normalization_desc_t *bnrm_desc, dnnl_prop_kind_t prop_kind, \
        const dnnl_memory_desc_t *diff_data_desc, const dnnl_memory_desc_t *data_desc, float epsilon, \
        unsigned flags), \
        (bnrm_desc, prop_kind, diff_data_desc, data_desc, epsilon, flags), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_batch_normalization_forward_desc_init, \
        (dnnl_batch_normalization_desc_t *bnrm_desc, dnnl_prop_kind_t prop_kind, \
        const dnnl_memory_desc_t *data_desc, float epsilon, unsigned flags), \
        (bnrm_desc, prop_kind, data_desc, epsilon, flags), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_dilated_convolution_backward_data_desc_init, \
        (dnnl_convolution_desc_t *conv_desc, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *diff_src_desc, const dnnl_memory_desc_t *weights_desc, \
        const dnnl_memory_desc_t *diff_dst_desc, const dnnl_dims_t strides, const dnnl_dims_t dilates, \
        const dnnl_dims_t padding_l, const dnnl_dims_t padding_r), \
        (conv_desc, alg_kind, diff_src_desc, weights_desc, diff_dst_desc, strides, dilates, padding_l, \
        padding_r), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_dilated_convolution_backward_weights_desc_init, \
        (dnnl_convolution_desc_t *conv_desc, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *diff_weights_desc, \
        const dnnl_memory_desc_t *diff_bias_desc, const dnnl_memory_desc_t *diff_dst_desc, \
        const dnnl_dims_t strides, const dnnl_dims_t dilates, const dnnl_dims_t padding_l, \
        const dnnl_dims_t padding_r), \
        (conv_desc, alg_kind, src_desc, diff_weights_desc, diff_bias_desc, diff_dst_desc, strides, \
        dilates, padding_l, padding_r), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_dilated_convolution_forward_desc_init, \
        (dnnl_convolution_desc_t *conv_desc, dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *weights_desc, \
        const dnnl_memory_desc_t *bias_desc, const dnnl_memory_desc_t *dst_desc, \
        const dnnl_dims_t strides, const dnnl_dims_t dilates, const dnnl_dims_t padding_l, \
        const dnnl_dims_t padding_r), \
        (conv_desc, prop_kind, alg_kind, src_desc, weights_desc, bias_desc, dst_desc, strides, dilates, \
        padding_l, padding_r), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_dilated_deconvolution_backward_data_desc_init, \
        (dnnl_deconvolution_desc_t *deconv_desc, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *diff_src_desc, const dnnl_memory_desc_t *weights_desc, \
        const dnnl_memory_desc_t *diff_dst_desc, const dnnl_dims_t strides, const dnnl_dims_t dilates, \
        const dnnl_dims_t padding_l, const dnnl_dims_t padding_r), \
        (deconv_desc, alg_kind, diff_src_desc, weights_desc, diff_dst_desc, strides, dilates, padding_l, \
        padding_r), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_dilated_deconvolution_backward_weights_desc_init, \
        (dnnl_deconvolution_desc_t *deconv_desc, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *diff_weights_desc, \
        const dnnl_memory_desc_t *diff_bias_desc, const dnnl_memory_desc_t *diff_dst_desc, \
        const dnnl_dims_t strides, const dnnl_dims_t dilates, const dnnl_dims_t padding_l, \
        const dnnl_dims_t padding_r), \
        (deconv_desc, alg_kind, src_desc, diff_weights_desc, diff_bias_desc, diff_dst_desc, strides, \
        dilates, padding_l, padding_r), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_dilated_deconvolution_forward_desc_init, \
        (dnnl_deconvolution_desc_t *deconv_desc, dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *weights_desc, \
        const dnnl_memory_desc_t *bias_desc, const dnnl_memory_desc_t *dst_desc, \
        const dnnl_dims_t strides, const dnnl_dims_t dilates, const dnnl_dims_t padding_l, \
        const dnnl_dims_t padding_r), \
        (deconv_desc, prop_kind, alg_kind, src_desc, weights_desc, bias_desc, dst_desc, strides, \
        dilates, padding_l, padding_r), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_engine_create, \
        (dnnl_engine_t *engine, dnnl_engine_kind_t kind, size_t index), \
        (engine, kind, index), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_engine_destroy, \
        (dnnl_engine_t engine), \
        (engine), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_lrn_backward_desc_init, \
        (dnnl_lrn_desc_t *lrn_desc, dnnl_alg_kind_t alg_kind, const dnnl_memory_desc_t *diff_data_desc, \
        const dnnl_memory_desc_t *data_desc, dnnl_dim_t local_size, float alpha, float beta, float k), \
        (lrn_desc, alg_kind, diff_data_desc, data_desc, local_size, alpha, beta, k), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_lrn_forward_desc_init, \
        (dnnl_lrn_desc_t *lrn_desc, dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *data_desc, dnnl_dim_t local_size, float alpha, float beta, float k), \
        (lrn_desc, prop_kind, alg_kind, data_desc, local_size, alpha, beta, k), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_memory_create, \
        (dnnl_memory_t *memory, const dnnl_memory_desc_t *memory_desc, dnnl_engine_t engine, \
        void *handle), \
        (memory, memory_desc, engine, handle), dnnl_runtime_error) \
    X(int, dnnl_memory_desc_equal, \
        (const dnnl_memory_desc_t *lhs, const dnnl_memory_desc_t *rhs), \
        (lhs, rhs), 0) \
    X(size_t, dnnl_memory_desc_get_size, \
        (const dnnl_memory_desc_t *memory_desc), \
        (memory_desc), 0) \
    X(dnnl_status_t, dnnl_memory_desc_init_by_tag, \
        (dnnl_memory_desc_t *memory_desc, int ndims, const dnnl_dims_t dims, dnnl_data_type_t data_type, \
        dnnl_format_tag_t tag), \
        (memory_desc, ndims, dims, data_type, tag), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_memory_destroy, \
        (dnnl_memory_t memory), \
        (memory), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_pooling_v2_backward_desc_init, \
        (dnnl_pooling_v2_desc_t *pool_desc, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *diff_src_desc, const dnnl_memory_desc_t *diff_dst_desc, \
        const dnnl_dims_t strides, const dnnl_dims_t kernel, const dnnl_dims_t dilation, \
        const dnnl_dims_t padding_l, const dnnl_dims_t padding_r), \
        (pool_desc, alg_kind, diff_src_desc, diff_dst_desc, strides, kernel, dilation, padding_l, \
        padding_r), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_pooling_v2_forward_desc_init, \
        (dnnl_pooling_v2_desc_t *pool_desc, dnnl_prop_kind_t prop_kind, dnnl_alg_kind_t alg_kind, \
        const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *dst_desc, \
        const dnnl_dims_t strides, const dnnl_dims_t kernel, const dnnl_dims_t dilation, \
        const dnnl_dims_t padding_l, const dnnl_dims_t padding_r), \
        (pool_desc, prop_kind, alg_kind, src_desc, dst_desc, strides, kernel, dilation, padding_l, \
        padding_r), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_post_ops_append_eltwise, \
        (dnnl_post_ops_t post_ops, float scale, dnnl_alg_kind_t alg_kind, float alpha, float beta), \
        (post_ops, scale, alg_kind, alpha, beta), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_post_ops_create, \
        (dnnl_post_ops_t *post_ops), \
        (post_ops), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_post_ops_destroy, \
        (dnnl_post_ops_t post_ops), \
        (post_ops), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_create, \
        (dnnl_primitive_attr_t *attr), \
        (attr), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_destroy, \
        (dnnl_primitive_attr_t attr), \
        (attr), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_set_post_ops, \
        (dnnl_primitive_attr_t attr, const_dnnl_post_ops_t post_ops), \
        (attr, post_ops), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_set_scratchpad_mode, \
        (dnnl_primitive_attr_t attr, dnnl_scratchpad_mode_t mode), \
        (attr, mode), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_create, \
        (dnnl_primitive_t *primitive, const_dnnl_primitive_desc_t primitive_desc), \
        (primitive, primitive_desc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_desc_create, \
        (dnnl_primitive_desc_t *primitive_desc, const_dnnl_op_desc_t op_desc, \
        const_dnnl_primitive_attr_t attr, dnnl_engine_t engine, \
        const_dnnl_primitive_desc_t hint_forward_primitive_desc), \
        (primitive_desc, op_desc, attr, engine, hint_forward_primitive_desc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_desc_destroy, \
        (dnnl_primitive_desc_t primitive_desc), \
        (primitive_desc), dnnl_runtime_error) \
    X(const dnnl_memory_desc_t *, dnnl_primitive_desc_query_md, \
        (const_dnnl_primitive_desc_t primitive_desc, dnnl_query_t what, int index), \
        (primitive_desc, what, index), NULL) \
    X(dnnl_status_t, dnnl_primitive_destroy, \
        (dnnl_primitive_t primitive), \
        (primitive), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_execute, \
        (const_dnnl_primitive_t primitive, dnnl_stream_t stream, int nargs, \
        const dnnl_exec_arg_t *args), \
        (primitive, stream, nargs, args), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_get_primitive_desc, \
        (const_dnnl_primitive_t primitive, const_dnnl_primitive_desc_t *primitive_desc), \
        (primitive, primitive_desc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_reorder_primitive_desc_create, \
        (dnnl_primitive_desc_t *reorder_primitive_desc, const dnnl_memory_desc_t *src_desc, \
        dnnl_engine_t src_engine, const dnnl_memory_desc_t *dst_desc, dnnl_engine_t dst_engine, \
        const_dnnl_primitive_attr_t attr), \
        (reorder_primitive_desc, src_desc, src_engine, dst_desc, dst_engine, attr), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_sgemm, \
        (char transa, char transb, dnnl_dim_t M, dnnl_dim_t N, dnnl_dim_t K, float alpha, \
        const float *A, dnnl_dim_t lda, const float *B, dnnl_dim_t ldb, float beta, float *C, \
        dnnl_dim_t ldc), \
        (transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_stream_create, \
        (dnnl_stream_t *stream, dnnl_engine_t engine, unsigned flags), \
        (stream, engine, flags), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_stream_destroy, \
        (dnnl_stream_t stream), \
        (stream), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_stream_wait, \
        (dnnl_stream_t stream), \
        (stream), dnnl_runtime_error)

#define CVSEG_DNNL_POINTER(ret, name, params, args, fail) ret (*name) params;
static struct { CVSEG_DNNL_FUNCTIONS(CVSEG_DNNL_POINTER) } cvseg_dnnl_table;

static pthread_once_t cvseg_dnnl_once = PTHREAD_ONCE_INIT;
static int cvseg_dnnl_ready;
static char cvseg_dnnl_message[512];

static void cvseg_dnnl_open(void) {
    void *library = dlopen(CVSEG_DNNL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(cvseg_dnnl_message, sizeof cvseg_dnnl_message,
                 "%s could not be opened: %s; install oneDNN (Debian: libdnnl-dev)",
                 CVSEG_DNNL_SONAME, reason ? reason : "unknown reason");
        return;
    }
#define CVSEG_DNNL_RESOLVE(ret, name, params, args, fail) \
    *(void **)(&cvseg_dnnl_table.name) = dlsym(library, #name); \
    if (cvseg_dnnl_table.name == NULL) { \
        snprintf(cvseg_dnnl_message, sizeof cvseg_dnnl_message, \
                 "%s has no function %s: not the oneDNN version cvseg was built for", \
                 CVSEG_DNNL_SONAME, #name); \
        return; \
    }
    CVSEG_DNNL_FUNCTIONS(CVSEG_DNNL_RESOLVE)
    cvseg_dnnl_ready = 1;
}

int cvseg_dnnl_load(const char **message) {
    pthread_once(&cvseg_dnnl_once, cvseg_dnnl_open);
    if (message != NULL) *message = cvseg_dnnl_ready ? NULL : cvseg_dnnl_message;
    return cvseg_dnnl_ready;
}

#define CVSEG_DNNL_FORWARD(ret, name, params, args, fail) \
    ret name params { \
        if (!cvseg_dnnl_load(NULL)) return fail; \
        return cvseg_dnnl_table.name args; \
    }
CVSEG_DNNL_FUNCTIONS(CVSEG_DNNL_FORWARD)
