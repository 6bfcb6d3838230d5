// libjpeg behind setjmp: see include/cvseg_shims.h for why this lives in C.
// The default error_exit calls exit(); ours longjmps back to the function that made the call.
#include "cvseg_shims.h"

#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct cvseg_error_mgr {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    int warnings;
    int strict;                // stop at the first warning that means damaged data
    int corrupt;               // such a warning was seen
    char message[CVSEG_MESSAGE_SIZE];
};

// The most scans a progressive file may have. Each scan re-decodes the whole image, so a small
// file repeating its scans can take hours; real encoders write about 10. libjpeg-turbo's own
// tools offer the same guard (-maxscans).
#define CVSEG_MAX_SCANS 1000

static void error_exit(j_common_ptr cinfo) {
    struct cvseg_error_mgr *e = (struct cvseg_error_mgr *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(e->message, CVSEG_MESSAGE_SIZE, "%s", text);
    longjmp(e->jump, 1);
}

// libjpeg reports recoverable damage ("Premature end of JPEG file", "Corrupt JPEG data: bad
// Huffman code") as warnings (msg_level -1) and goes on, filling in gray. Warnings that mean
// damaged image data are classified by message code; the others (an unknown JFIF revision, an
// odd Adobe transform code) leave the pixels intact. In strict mode the decode stops at the
// first damaging warning instead of decoding the rest. Trace messages (msg_level >= 0) are ignored.
static int damages_pixels(int code) {
    switch (code) {
    case JWRN_JPEG_EOF: case JWRN_HUFF_BAD_CODE: case JWRN_EXTRANEOUS_DATA: case JWRN_MUST_RESYNC:
    case JWRN_HIT_MARKER: case JWRN_NOT_SEQUENTIAL: case JWRN_BOGUS_PROGRESSION:
#ifdef C_ARITH_CODING_SUPPORTED
    case JWRN_ARITH_BAD_CODE:
#endif
        return 1;
    default:
        return 0;
    }
}

static void emit_message(j_common_ptr cinfo, int level) {
    struct cvseg_error_mgr *e = (struct cvseg_error_mgr *)cinfo->err;
    if (level >= 0) return;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    if (e->warnings == 0) snprintf(e->message, CVSEG_MESSAGE_SIZE, "%s", text);
    e->warnings += 1;
    if (damages_pixels(cinfo->err->msg_code)) {
        if (!e->corrupt) snprintf(e->message, CVSEG_MESSAGE_SIZE, "%s", text);
        e->corrupt = 1;
        if (e->strict) longjmp(e->jump, 1);
    }
}

static void count_scans(j_common_ptr cinfo) {
    if (cinfo->is_decompressor) {
        j_decompress_ptr d = (j_decompress_ptr)cinfo;
        if (d->input_scan_number > CVSEG_MAX_SCANS) {
            struct cvseg_error_mgr *e = (struct cvseg_error_mgr *)cinfo->err;
            snprintf(e->message, CVSEG_MESSAGE_SIZE,
                     "more than %d progressive scans (a real encoder writes about 10)", CVSEG_MAX_SCANS);
            longjmp(e->jump, 1);
        }
    }
}

static void output_message(j_common_ptr cinfo) { (void)cinfo; /* never print */ }

static void install_errors(struct cvseg_error_mgr *e) {
    jpeg_std_error(&e->base);
    e->base.error_exit = error_exit;
    e->base.emit_message = emit_message;
    e->base.output_message = output_message;
}

struct cvseg_jpeg_reader {
    struct jpeg_decompress_struct cinfo;
    struct cvseg_error_mgr errors;
    struct jpeg_progress_mgr progress;
    int lenient;
    int started;
};

static int failure_status(struct cvseg_error_mgr *e) {
    return e->corrupt && e->strict ? CVSEG_ERR_CORRUPT : CVSEG_ERR_DECODE;
}

static void copy_text(char *dst, const char *src) { snprintf(dst, CVSEG_MESSAGE_SIZE, "%s", src); }

int cvseg_jpeg_open(const uint8_t *data, size_t size, const cvseg_decode_options *options,
                    cvseg_jpeg_reader **out, cvseg_image_info *info) {
    memset(info, 0, sizeof(*info));
    *out = NULL;
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        copy_text(info->message, size == 0 ? "the file is empty" : "not a JPEG file (no SOI marker)");
        return CVSEG_ERR_DECODE;
    }
    struct cvseg_jpeg_reader *r = calloc(1, sizeof(*r));
    if (!r) { copy_text(info->message, "out of memory"); return CVSEG_ERR_NOMEM; }
    r->lenient = options->lenient;
    install_errors(&r->errors);
    r->errors.strict = !options->lenient;
    r->cinfo.err = &r->errors.base;
    if (setjmp(r->errors.jump)) {
        copy_text(info->message, r->errors.message);
        int status = failure_status(&r->errors);
        cvseg_jpeg_free(r);
        return status;
    }
    jpeg_create_decompress(&r->cinfo);
    // libjpeg's own working memory (coefficient buffers of progressive files) is capped too.
    r->cinfo.mem->max_memory_to_use = 512L * 1024 * 1024;
    r->progress.progress_monitor = count_scans;
    r->cinfo.progress = &r->progress;
    jpeg_mem_src(&r->cinfo, data, (unsigned long)size);
    jpeg_read_header(&r->cinfo, TRUE);

    info->width = r->cinfo.image_width;
    info->height = r->cinfo.image_height;
    info->source_bit_depth = r->cinfo.data_precision;
    info->source_color = r->cinfo.num_components;
    info->interlaced = jpeg_has_multiple_scans(&r->cinfo) ? 1 : 0;
    if (info->width > options->max_width || info->height > options->max_height
        || (uint64_t)info->width * (uint64_t)info->height > options->max_pixels) {
        snprintf(info->message, CVSEG_MESSAGE_SIZE,
                 "image dimensions %u x %u exceed the limit (%u x %u, %llu pixels)",
                 (unsigned)info->width, (unsigned)info->height, (unsigned)options->max_width,
                 (unsigned)options->max_height, (unsigned long long)options->max_pixels);
        cvseg_jpeg_free(r);
        return CVSEG_ERR_TOO_LARGE;
    }
    switch (r->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        r->cinfo.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        r->cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        // A faithful CMYK to RGB conversion needs the embedded ICC profile; a naive formula gives
        // wrong colours without saying so. Refuse instead.
        copy_text(info->message,
                  "CMYK JPEG is not supported (convert it to RGB first, e.g. with an ICC-aware tool)");
        cvseg_jpeg_free(r);
        return CVSEG_ERR_UNSUPPORTED;
    default:
        copy_text(info->message, "unknown JPEG colour space");
        cvseg_jpeg_free(r);
        return CVSEG_ERR_UNSUPPORTED;
    }
    r->cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&r->cinfo);
    r->started = 1;
    info->channels = r->cinfo.output_components;
    info->bit_depth = 8;
    info->row_bytes = (size_t)r->cinfo.output_width * (size_t)r->cinfo.output_components;
    info->warnings = r->errors.warnings;
    if (r->errors.warnings) copy_text(info->message, r->errors.message);
    *out = r;
    return CVSEG_OK;
}

int cvseg_jpeg_read_pixels(cvseg_jpeg_reader *r, uint8_t *pixels, cvseg_image_info *info) {
    if (setjmp(r->errors.jump)) {
        info->warnings = r->errors.warnings;
        copy_text(info->message, r->errors.message);
        return failure_status(&r->errors);
    }
    size_t row_bytes = (size_t)r->cinfo.output_width * (size_t)r->cinfo.output_components;
    while (r->cinfo.output_scanline < r->cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)r->cinfo.output_scanline * row_bytes;
        jpeg_read_scanlines(&r->cinfo, &row, 1);
    }
    jpeg_finish_decompress(&r->cinfo);
    r->started = 0;
    info->warnings = r->errors.warnings;
    if (r->errors.warnings) copy_text(info->message, r->errors.message);
    if (r->errors.corrupt && !r->lenient) return CVSEG_ERR_CORRUPT;
    return CVSEG_OK;
}

void cvseg_jpeg_free(cvseg_jpeg_reader *r) {
    if (!r) return;
    // jpeg_destroy cannot fail, but guard it anyway: an error here must not exit the process.
    if (setjmp(r->errors.jump) == 0) jpeg_destroy_decompress(&r->cinfo);
    free(r);
}

// A growable in-memory destination. jpeg_mem_dest would do, but it frees and replaces its
// buffer as it grows without telling the caller, so an error after a growth would leave us
// holding a freed pointer; here the buffer is always ours.
struct cvseg_dest {
    struct jpeg_destination_mgr base;
    uint8_t *buffer;
    size_t capacity;
};

static void dest_init(j_compress_ptr cinfo) {
    struct cvseg_dest *d = (struct cvseg_dest *)cinfo->dest;
    d->base.next_output_byte = d->buffer;
    d->base.free_in_buffer = d->capacity;
}

static boolean dest_grow(j_compress_ptr cinfo) {
    struct cvseg_dest *d = (struct cvseg_dest *)cinfo->dest;
    size_t used = d->capacity; // libjpeg calls this only when the buffer is full
    uint8_t *grown = realloc(d->buffer, d->capacity * 2);
    if (!grown) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
    d->buffer = grown;
    d->capacity *= 2;
    d->base.next_output_byte = d->buffer + used;
    d->base.free_in_buffer = d->capacity - used;
    return TRUE;
}

static void dest_term(j_compress_ptr cinfo) { (void)cinfo; }

int cvseg_jpeg_encode(const cvseg_jpeg_write_params *p, uint8_t **out, size_t *out_size,
                      char message[CVSEG_MESSAGE_SIZE]) {
    *out = NULL;
    *out_size = 0;
    message[0] = 0;
    if ((p->channels != 1 && p->channels != 3) || p->width == 0 || p->height == 0
        || p->quality < 1 || p->quality > 100) {
        copy_text(message, "JPEG needs 1 or 3 channels, a non-empty image and quality 1...100");
        return CVSEG_ERR_ARGUMENT;
    }
    struct jpeg_compress_struct cinfo;
    struct cvseg_error_mgr errors;
    // On the heap, and the pointer never changes after setjmp: what the handler reads is
    // well defined after a longjmp.
    struct cvseg_dest *dest = calloc(1, sizeof(*dest));
    if (!dest) { copy_text(message, "out of memory"); return CVSEG_ERR_NOMEM; }
    dest->capacity = 65536;
    dest->buffer = malloc(dest->capacity);
    if (!dest->buffer) { free(dest); copy_text(message, "out of memory"); return CVSEG_ERR_NOMEM; }
    install_errors(&errors);
    cinfo.err = &errors.base;
    if (setjmp(errors.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(dest->buffer);
        free(dest);
        copy_text(message, errors.message);
        return CVSEG_ERR_DECODE;
    }
    jpeg_create_compress(&cinfo);
    dest->base.init_destination = dest_init;
    dest->base.empty_output_buffer = dest_grow;
    dest->base.term_destination = dest_term;
    cinfo.dest = &dest->base;
    cinfo.image_width = p->width;
    cinfo.image_height = p->height;
    cinfo.input_components = p->channels;
    cinfo.in_color_space = p->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, p->quality, TRUE);
    if (p->progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(p->pixels + (size_t)cinfo.next_scanline * p->row_bytes);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    *out_size = dest->capacity - dest->base.free_in_buffer;
    *out = dest->buffer;
    jpeg_destroy_compress(&cinfo);
    free(dest);
    return CVSEG_OK;
}
