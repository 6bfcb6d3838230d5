// libpng behind setjmp: see include/cvseg_shims.h for why this lives in C.
#include "cvseg_shims.h"

#include <png.h>
#include <zlib.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

struct cvseg_png_reader {
    png_structp png;
    png_infop info;
    const uint8_t *data;
    size_t size;
    size_t position;
    int lenient;
    int corrupt;               // a warning that means damaged pixel data was seen
    int warnings;
    char message[CVSEG_MESSAGE_SIZE];
    uint32_t height;
    size_t row_bytes;
};

static void copy_message(char *dst, const char *src) {
    snprintf(dst, CVSEG_MESSAGE_SIZE, "%s", src ? src : "unknown error");
}

static void reader_error(png_structp png, png_const_charp message) {
    struct cvseg_png_reader *r = (struct cvseg_png_reader *)png_get_error_ptr(png);
    copy_message(r->message, message);
    png_longjmp(png, 1);
}

// Warnings that mean damaged image data (a broken zlib stream, too much or too little IDAT data,
// a bad CRC, a truncated file) fail a strict decode; the rest (a broken iCCP profile, a PLTE in
// a gray file, unknown chunks) leave the pixels intact and are only counted.
static int damages_pixels(const char *message) {
    if (!message) return 1;
    return strncmp(message, "IDAT", 4) == 0 || strstr(message, "CRC") != NULL
        || strstr(message, "compressed data") != NULL || strstr(message, "image data") != NULL
        || strstr(message, "runcated") != NULL || strstr(message, "amaged") != NULL
        || strstr(message, "data check") != NULL || strstr(message, "adaptive filter") != NULL;
}

static void reader_warning(png_structp png, png_const_charp message) {
    struct cvseg_png_reader *r = (struct cvseg_png_reader *)png_get_error_ptr(png);
    if (r->warnings == 0) copy_message(r->message, message);
    r->warnings += 1;
    if (damages_pixels(message)) {
        if (!r->corrupt) copy_message(r->message, message);
        r->corrupt = 1;
    }
}

static void reader_read(png_structp png, png_bytep out, size_t count) {
    struct cvseg_png_reader *r = (struct cvseg_png_reader *)png_get_io_ptr(png);
    if (count > r->size - r->position) {
        png_error(png, "unexpected end of file (the file is truncated)");
    }
    memcpy(out, r->data + r->position, count);
    r->position += count;
}

static void fill_info(struct cvseg_png_reader *r, cvseg_image_info *info) {
    info->warnings = r->warnings;
    copy_message(info->message, r->warnings || r->message[0] ? r->message : "");
}

int cvseg_png_open(const uint8_t *data, size_t size, const cvseg_decode_options *options,
                   cvseg_png_reader **out, cvseg_image_info *info) {
    memset(info, 0, sizeof(*info));
    *out = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        copy_message(info->message, size == 0 ? "the file is empty" : "not a PNG file (bad signature)");
        return CVSEG_ERR_DECODE;
    }
    struct cvseg_png_reader *r = calloc(1, sizeof(*r));
    if (!r) { copy_message(info->message, "out of memory"); return CVSEG_ERR_NOMEM; }
    r->data = data;
    r->size = size;
    r->lenient = options->lenient;
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, reader_error, reader_warning);
    if (!r->png) { free(r); copy_message(info->message, "out of memory"); return CVSEG_ERR_NOMEM; }
    r->info = png_create_info_struct(r->png);
    if (!r->info) {
        png_destroy_read_struct(&r->png, NULL, NULL);
        free(r);
        copy_message(info->message, "out of memory");
        return CVSEG_ERR_NOMEM;
    }
    if (setjmp(png_jmpbuf(r->png))) {
        copy_message(info->message, r->message);
        cvseg_png_free(r);
        return CVSEG_ERR_DECODE;
    }
    png_set_read_fn(r->png, r, reader_read);
    // Our own limits are checked below with a clearer message; libpng's stay out of the way.
    png_set_user_limits(r->png, 0x7fffffffU, 0x7fffffffU);
    png_set_benign_errors(r->png, 1);
#ifdef PNG_IGNORE_ADLER32
    // Every IDAT chunk's CRC-32 is checked (a mismatch is an error in strict mode), and it covers
    // the same bytes as zlib's Adler-32, so the second checksum is skipped: 5% of decode time.
    png_set_option(r->png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    if (r->lenient) {
        png_set_crc_action(r->png, PNG_CRC_WARN_USE, PNG_CRC_WARN_DISCARD);
    } else {
        png_set_crc_action(r->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    }
    png_read_info(r->png, r->info);

    png_uint_32 width = 0, height = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(r->png, r->info, &width, &height, &depth, &color, &interlace, NULL, NULL);
    info->width = width;
    info->height = height;
    info->source_bit_depth = depth;
    info->source_color = color;
    info->interlaced = interlace != PNG_INTERLACE_NONE;
    if (width > options->max_width || height > options->max_height
        || (uint64_t)width * (uint64_t)height > options->max_pixels) {
        snprintf(info->message, CVSEG_MESSAGE_SIZE,
                 "image dimensions %u x %u exceed the limit (%u x %u, %llu pixels)",
                 (unsigned)width, (unsigned)height, (unsigned)options->max_width,
                 (unsigned)options->max_height, (unsigned long long)options->max_pixels);
        cvseg_png_free(r);
        return CVSEG_ERR_TOO_LARGE;
    }

    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte = NULL;
        int count = 0;
        if (png_get_PLTE(r->png, r->info, &plte, &count) & PNG_INFO_PLTE) {
            png_bytep alpha = NULL;
            int alpha_count = 0;
            png_get_tRNS(r->png, r->info, &alpha, &alpha_count, NULL);
            info->palette_count = count;
            for (int i = 0; i < count && i < 256; i++) {
                info->palette[4 * i + 0] = plte[i].red;
                info->palette[4 * i + 1] = plte[i].green;
                info->palette[4 * i + 2] = plte[i].blue;
                info->palette[4 * i + 3] = (alpha && i < alpha_count) ? alpha[i] : 255;
            }
        }
        if (options->palette_as_indices) {
            png_set_packing(r->png);               // 1/2/4-bit indices to one byte each, unscaled
        } else {
            png_set_palette_to_rgb(r->png);
            if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
        }
    } else {
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(r->png); // scaled to 0...255
        if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
    }
    if (depth == 16) png_set_swap(r->png);             // file is big-endian; hosts are little
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);

    info->channels = png_get_channels(r->png, r->info);
    info->bit_depth = png_get_bit_depth(r->png, r->info);
    info->row_bytes = png_get_rowbytes(r->png, r->info);
    r->height = height;
    r->row_bytes = info->row_bytes;
    fill_info(r, info);
    *out = r;
    return CVSEG_OK;
}

int cvseg_png_read_pixels(cvseg_png_reader *r, uint8_t *pixels, cvseg_image_info *info) {
    png_bytep *rows = malloc(sizeof(png_bytep) * (r->height ? r->height : 1));
    if (!rows) { copy_message(info->message, "out of memory"); return CVSEG_ERR_NOMEM; }
    for (uint32_t y = 0; y < r->height; y++) rows[y] = pixels + (size_t)y * r->row_bytes;
    if (setjmp(png_jmpbuf(r->png))) {
        free(rows);
        fill_info(r, info);
        copy_message(info->message, r->message);
        return CVSEG_ERR_DECODE;
    }
    png_read_image(r->png, rows);
    free(rows);
    // The chunks after the image data (and their CRCs) are checked too: a file cut after the
    // last IDAT is truncated. In lenient mode that is only a warning.
    if (setjmp(png_jmpbuf(r->png))) {
        if (!r->lenient) {
            fill_info(r, info);
            copy_message(info->message, r->message);
            return CVSEG_ERR_DECODE;
        }
        r->warnings += 1;
        fill_info(r, info);
        return CVSEG_OK;
    }
    png_read_end(r->png, NULL);
    fill_info(r, info);
    if (r->corrupt && !r->lenient) return CVSEG_ERR_CORRUPT;
    return CVSEG_OK;
}

void cvseg_png_free(cvseg_png_reader *r) {
    if (!r) return;
    png_destroy_read_struct(&r->png, &r->info, NULL);
    free(r);
}

// MARK: - Writing

struct png_write_state {
    uint8_t *buffer;
    size_t size;
    size_t capacity;
    int failed;
    char message[CVSEG_MESSAGE_SIZE];
};

static void writer_error(png_structp png, png_const_charp message) {
    struct png_write_state *s = (struct png_write_state *)png_get_error_ptr(png);
    copy_message(s->message, message);
    png_longjmp(png, 1);
}

static void writer_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message; // encoder warnings do not affect the written data
}

static void writer_write(png_structp png, png_bytep data, size_t count) {
    struct png_write_state *s = (struct png_write_state *)png_get_io_ptr(png);
    if (s->size + count > s->capacity) {
        size_t capacity = s->capacity ? s->capacity : 65536;
        while (capacity < s->size + count) capacity *= 2;
        uint8_t *grown = realloc(s->buffer, capacity);
        if (!grown) png_error(png, "out of memory");
        s->buffer = grown;
        s->capacity = capacity;
    }
    memcpy(s->buffer + s->size, data, count);
    s->size += count;
}

static void writer_flush(png_structp png) { (void)png; }

int cvseg_png_encode(const cvseg_png_write_params *p, uint8_t **out, size_t *out_size,
                     char message[CVSEG_MESSAGE_SIZE]) {
    *out = NULL;
    *out_size = 0;
    message[0] = 0;
    int color;
    switch (p->channels) {
    case 1: color = p->palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY; break;
    case 2: color = PNG_COLOR_TYPE_GRAY_ALPHA; break;
    case 3: color = PNG_COLOR_TYPE_RGB; break;
    case 4: color = PNG_COLOR_TYPE_RGBA; break;
    default: copy_message(message, "channels must be 1...4"); return CVSEG_ERR_ARGUMENT;
    }
    if ((p->bit_depth != 8 && p->bit_depth != 16) || (p->palette && p->bit_depth != 8)
        || (p->palette && (p->palette_count < 1 || p->palette_count > 256))
        || p->width == 0 || p->height == 0) {
        copy_message(message, "invalid bit depth, palette or size");
        return CVSEG_ERR_ARGUMENT;
    }
    struct png_write_state state;
    memset(&state, 0, sizeof(state));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, writer_error, writer_warning);
    if (!png) { copy_message(message, "out of memory"); return CVSEG_ERR_NOMEM; }
    png_infop info = png_create_info_struct(png);
    // Modified after setjmp, so volatile: its value must survive the longjmp.
    png_bytep *volatile rows = NULL;
    png_bytep volatile row = NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        copy_message(message, "out of memory");
        return CVSEG_ERR_NOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(row);
        free(state.buffer);
        copy_message(message, state.message);
        return CVSEG_ERR_DECODE;
    }
    png_set_write_fn(png, &state, writer_write, writer_flush);
    png_set_IHDR(png, info, p->width, p->height, p->bit_depth, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (p->palette) {
        png_color plte[256];
        png_byte alpha[256];
        int alpha_count = 0;
        for (int i = 0; i < p->palette_count; i++) {
            plte[i].red = p->palette[4 * i];
            plte[i].green = p->palette[4 * i + 1];
            plte[i].blue = p->palette[4 * i + 2];
            alpha[i] = p->palette[4 * i + 3];
            if (alpha[i] != 255) alpha_count = i + 1;
        }
        png_set_PLTE(png, info, plte, p->palette_count);
        if (alpha_count > 0) png_set_tRNS(png, info, alpha, alpha_count, NULL);
    }
    png_set_compression_level(png, p->compression_level);
    if (p->filter == 0) {
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    } else if (p->filter == 1) {
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    }
    if (p->run_length) png_set_compression_strategy(png, Z_RLE);
    png_write_info(png, info);
    if (p->bit_depth == 16) png_set_swap(png);
    if (p->row_fn) {
        // One row at a time from the caller; libpng copies each row before its transformations.
        row = malloc(p->row_bytes ? p->row_bytes : 1);
        if (!row) png_error(png, "out of memory");
        for (uint32_t y = 0; y < p->height; y++) {
            p->row_fn(p->row_context, y, row);
            png_write_row(png, row);
        }
        free(row);
        row = NULL;
    } else {
        rows = malloc(sizeof(png_bytep) * p->height);
        if (!rows) png_error(png, "out of memory");
        for (uint32_t y = 0; y < p->height; y++) rows[y] = (png_bytep)(p->pixels + (size_t)y * p->row_bytes);
        png_write_image(png, rows);
        free(rows);
        rows = NULL;
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = state.buffer;
    *out_size = state.size;
    return CVSEG_OK;
}

void cvseg_free(void *pointer) { free(pointer); }

